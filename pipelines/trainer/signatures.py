"""Serving signatures: every exported model carries its transform graph.

- ``serving_default`` takes raw features by name (JSON-like instances, what
  Vertex AI's prediction containers send);
- ``serving_tf_example`` takes serialized ``tf.Example``s (what the Evaluator
  and batch jobs send).
Both return ``{"outputs": ...}``: a value per instance (regression, binary
probability) or a probability vector (multiclass).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from pipelines.config.model_config import ModelConfig
from pipelines.trainer.builders import as_model_inputs

SERVING_DEFAULT = "serving_default"
SERVING_TF_EXAMPLE = "serving_tf_example"


def serving_feature_spec(tf_transform_output: tft.TFTransformOutput,
                         config: ModelConfig) -> dict[str, Any]:
    """The raw features a request must carry: the declared ones, not the label or extras."""
    raw = tf_transform_output.raw_feature_spec()
    return {key: raw[key] for key in config.raw_feature_keys}


def _outputs(model: tf.keras.Model, config: ModelConfig, transformed) -> dict[str, tf.Tensor]:
    outputs = model(as_model_inputs(transformed))
    if config.task != "multiclass_classification":
        outputs = tf.reshape(outputs, [-1])
    return {"outputs": outputs}


def _raw_to_parsed(value: tf.Tensor, spec, is_sequence: bool):
    """A request tensor in the form ``tf.io.parse_example`` would have produced."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tf.reshape(value, [-1, *spec.shape])
    value = value if is_sequence else tf.reshape(value, [-1, 1])
    present = tf.ones_like(value, tf.bool)
    if value.dtype.is_floating:  # NaN marks a missing value
        present = tf.logical_not(tf.math.is_nan(value))
    indices = tf.where(present)
    return tf.SparseTensor(indices, tf.gather_nd(value, indices), tf.shape(value, tf.int64))


def make_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
                    config: ModelConfig) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """Both serving signatures for ``model``, applying the transform graph first."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    spec = serving_feature_spec(tf_transform_output, config)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_tf_examples(serialized):
        raw = tf.io.parse_example(serialized, spec)
        return _outputs(model, config, model.tft_layer(raw))

    raw_signature = {
        key: tf.TensorSpec([None, None] if key in config.sequence_features else [None],
                           feature.dtype, name=key)
        for key, feature in spec.items()}

    @tf.function(input_signature=[raw_signature])
    def serve_raw(features):
        raw = {k: _raw_to_parsed(v, spec[k], k in config.sequence_features)
               for k, v in features.items()}
        return _outputs(model, config, model.tft_layer(raw))

    return {SERVING_DEFAULT: serve_raw.get_concrete_function(),
            SERVING_TF_EXAMPLE: serve_tf_examples.get_concrete_function()}
