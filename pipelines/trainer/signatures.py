"""Serving signatures: every exported model carries its transform graph.

- ``serving_default`` takes raw features by name (JSON-like instances, what
  Vertex AI's prediction containers send);
- ``serving_tf_example`` takes serialized ``tf.Example``s (what the Evaluator
  and batch jobs send).
Both return ``{"outputs": ...}``: a value per instance (regression, binary
probability) or a probability vector (multiclass).

Missing values are served as they were trained: a feature absent from a
``tf.Example``, or given to ``serving_default`` as its missing marker (NaN for
floats, -2**63 for integers, ``""`` for strings), goes through the transform's
own rule (the imputation value from its analysis, the out-of-vocabulary bucket).
``assets.extra/serving.json`` lists the features and which of them may be missing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from pipelines.config.model_config import ModelConfig
from pipelines.features.kinds import MISSING_INT
from pipelines.trainer.builders import as_model_inputs

SERVING_DEFAULT = "serving_default"
SERVING_TF_EXAMPLE = "serving_tf_example"
SERVING_INFO = os.path.join("assets.extra", "serving.json")


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
    if value.dtype.is_floating:  # the missing markers: NaN, -2**63, ""
        present = tf.logical_not(tf.math.is_nan(value))
    elif value.dtype == tf.string:
        present = tf.not_equal(value, "")
    else:
        present = tf.not_equal(value, tf.constant(MISSING_INT, value.dtype))
    indices = tf.where(present)
    return tf.SparseTensor(indices, tf.gather_nd(value, indices), tf.shape(value, tf.int64))


def make_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
                    config: ModelConfig, transform: tf.keras.layers.Layer | None = None,
                    ) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """Both serving signatures for ``model``, applying the transform graph first
    (``transform``: the training input's transform layer, else a new one)."""
    model.tft_layer = transform or tf_transform_output.transform_features_layer()
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


def write_serving_info(serving_model_dir: str, tf_transform_output: tft.TFTransformOutput,
                       config: ModelConfig) -> None:
    """Records each serving input's type and whether it may be missing (VarLen in the schema
    the transform was built with); a FixedLen one has no rule for a missing value."""
    spec = serving_feature_spec(tf_transform_output, config)
    info = {"features": {key: {"dtype": feature.dtype.name,
                               "sequence": key in config.sequence_features,
                               "optional": not isinstance(feature, tf.io.FixedLenFeature)
                               or feature.default_value is not None}
                         for key, feature in spec.items()}}
    path = os.path.join(serving_model_dir, SERVING_INFO)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(info, f, indent=1)
