"""Training: prebuilt Keras models from feature declarations, run_fn and serving signatures."""
