"""Serving: loading pushed models and answering predictions."""

# Vertex AI refuses online prediction requests over 1.5 MB ("the payload limit size
# (currently, 1.5MB)", gcloud ai endpoints predict). The endpoint twin answers 413 above
# it; read as 1.5 decimal megabytes, the stricter reading, so a body the twin accepts is
# never too large for Vertex. Here, not in endpoint_app, so the CLI's option reads it
# without importing the web framework.
MAX_REQUEST_BYTES = 1_500_000
