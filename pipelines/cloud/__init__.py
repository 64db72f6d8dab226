"""The cloud path: the same pipeline compiled for Vertex AI Pipelines, and how runs are submitted."""
