"""The cloud path: the pipeline compiled for Vertex AI Pipelines, and runs submitted there."""
