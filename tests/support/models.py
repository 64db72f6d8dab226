"""Tiny SavedModels for serving tests: a constant answer per version."""

import tensorflow as tf


def constant_model(path, value: float) -> str:
    """Saves a model whose ``serving_default`` answers ``value`` per ``x``; returns its path."""
    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"outputs": tf.fill(tf.shape(x), value)}

    module = Model()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)
