"""Pipeline assembly: the TFX pipeline built from a model config, and how it runs."""
