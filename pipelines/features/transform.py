"""tf.transform preprocessing built from feature declarations.

Analyzers (means, quantiles, vocabularies) run over the whole dataset in Beam;
their results are baked into the transform graph that serving reuses, so
training and serving transform features identically.

``features_transform`` is usable as a whole ``preprocessing_fn`` or inside a
custom one; ``preprocessing_fn(inputs, custom_config)`` is the config-driven
default that TFX's Transform calls with ``custom_config={"model": name}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from pipelines.compat import patch_beam_for_tft
from pipelines.config.model_config import Impute, ModelConfig, SequenceSpec, VocabSpec
from pipelines.features.kinds import TRANSFORM_ARGS
from pipelines.features.naming import bucketized_name, transformed_name

Tensor = tf.Tensor | tf.SparseTensor

patch_beam_for_tft()  # Transform imports this module before it builds its Beam pipeline


def _present_values(x: Tensor) -> tf.Tensor:
    """The values that are present (not missing, not NaN), flattened."""
    values = x.values if isinstance(x, tf.SparseTensor) else tf.reshape(x, [-1])
    if values.dtype.is_floating:
        values = tf.boolean_mask(values, tf.logical_not(tf.math.is_nan(values)))
    return values


def _most_frequent(values: tf.Tensor) -> tf.Tensor:
    """The most frequent value over the whole dataset (a tft vocabulary of size 1)."""
    as_text = values if values.dtype == tf.string else tf.strings.as_string(values)
    vocab = tft.vocabulary(as_text, top_k=1)
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(vocab, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                                      tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
        default_value="")
    top = table.lookup(tf.constant(0, tf.int64))
    return top if values.dtype == tf.string else tf.strings.to_number(top, values.dtype)


def _fill_value(x: Tensor, impute: Impute | None, default: Any) -> tf.Tensor:
    """The value that replaces a missing one in ``x``."""
    dtype = x.dtype
    if impute is None:
        return tf.constant(default, dtype)
    values = _present_values(x)
    if impute.strategy == "constant":
        return tf.constant(impute.value, dtype)
    if impute.strategy == "mean":
        return tf.cast(tft.mean(tf.cast(values, tf.float32)), dtype)
    if impute.strategy == "median":
        boundaries = tft.quantiles(tf.cast(values, tf.float32), num_buckets=2, epsilon=0.001)
        return tf.cast(tf.reshape(boundaries, [-1])[0], dtype)
    return _most_frequent(values)


def fill_missing(x: Tensor, impute: Impute | None = None, default: Any = None) -> tf.Tensor:
    """A dense rank-1 tensor where missing (and NaN) values are imputed.

    Args:
      x: a feature as TFX parses it: dense ``[batch]``/``[batch, 1]`` or a
        ``SparseTensor`` with at most one value per row.
      impute: how to fill; ``None`` uses ``default``.
      default: the fill value when ``impute`` is None (0 or '' by dtype if None).
    """
    if default is None:
        default = "" if x.dtype == tf.string else 0
    fill = _fill_value(x, impute, default)
    if isinstance(x, tf.SparseTensor):
        dense = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), fill)
    else:
        dense = tf.reshape(x, [-1, 1]) if x.shape.rank != 2 else x
    dense = tf.squeeze(dense, axis=1)
    if dense.dtype.is_floating:
        dense = tf.where(tf.math.is_nan(dense), tf.cast(fill, dense.dtype), dense)
    return dense


def scale(x: tf.Tensor, method: str) -> tf.Tensor:
    """Scales a float feature over the whole dataset: z_score, min_max, log or none."""
    x = tf.cast(x, tf.float32)
    if method == "z_score":
        return tft.scale_to_z_score(x)
    if method == "min_max":
        return tft.scale_to_0_1(x)
    if method == "log":
        return tf.math.log1p(tf.maximum(x, 0.0))
    return x


def categorical_identity(x: tf.Tensor, num_values: int) -> tf.Tensor:
    """Integer ids in [0, num_values); anything else (or missing) becomes num_values."""
    x = tf.cast(x, tf.int64)
    return tf.where((x < 0) | (x >= num_values), tf.constant(num_values, tf.int64), x)


def pad_sequence(x: tf.SparseTensor | tf.Tensor, max_length: int) -> tf.Tensor:
    """A ``[batch, max_length]`` float tensor: z-scored values, zero-padded or cut."""
    if not isinstance(x, tf.SparseTensor):
        x = tf.sparse.from_dense(tf.reshape(x, [tf.shape(x)[0], -1]))
    x = tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)
    scaled = tft.scale_to_z_score(x)
    dense = tf.sparse.to_dense(scaled, 0.0)[:, :max_length]
    dense = tf.pad(dense, [[0, 0], [0, max_length - tf.shape(dense)[1]]])
    return tf.reshape(dense, [-1, max_length])


def features_transform(
    inputs: Mapping[str, Tensor],
    label_key: str | None = None,
    dense_features: list[str] | tuple[str, ...] = (),
    vocab_features: Mapping[str, VocabSpec | Mapping[str, int]] | None = None,
    bucket_features: Mapping[str, int] | None = None,
    categorical_int_features: Mapping[str, int] | None = None,
    sequence_features: Mapping[str, SequenceSpec | Mapping[str, int]] | None = None,
    imputation: Mapping[str, Impute | str] | None = None,
    scaling: Mapping[str, str] | None = None,
    task: str = "regression",
) -> dict[str, tf.Tensor]:
    """Transforms declared features; returns ``{transformed_name: tensor}``.

    Dense floats are imputed (mean by default) and scaled (z-score by default);
    bucket features are quantile-bucketized; vocab features go through a
    vocabulary of ``top_k`` values plus ``num_oov_buckets`` hash buckets;
    categorical ints keep their ids; sequences are z-scored and padded. The
    label passes through as float (regression) or int64 (classification).
    """
    imputation = {k: Impute(strategy=v) if isinstance(v, str) else v
                  for k, v in (imputation or {}).items()}
    scaling = dict(scaling or {})
    outputs: dict[str, tf.Tensor] = {}
    for key in dense_features:
        value = fill_missing(inputs[key], imputation.get(key, Impute(strategy="mean")))
        outputs[transformed_name(key)] = scale(value, scaling.get(key, "z_score"))
    for key, num_buckets in (bucket_features or {}).items():
        value = fill_missing(inputs[key], imputation.get(key, Impute(strategy="mean")))
        outputs[bucketized_name(key)] = tft.bucketize(tf.cast(value, tf.float32), num_buckets)
    for key, spec in (vocab_features or {}).items():
        spec = spec if isinstance(spec, VocabSpec) else VocabSpec(**spec)
        value = fill_missing(inputs[key], imputation.get(key))
        if value.dtype != tf.string:
            value = tf.strings.as_string(value)
        outputs[transformed_name(key)] = tft.compute_and_apply_vocabulary(
            value, top_k=spec.top_k, num_oov_buckets=spec.num_oov_buckets)
    for key, num_values in (categorical_int_features or {}).items():
        value = fill_missing(inputs[key], imputation.get(key), default=num_values)
        outputs[transformed_name(key)] = categorical_identity(value, num_values)
    for key, spec in (sequence_features or {}).items():
        spec = spec if isinstance(spec, SequenceSpec) else SequenceSpec(**spec)
        outputs[transformed_name(key)] = pad_sequence(inputs[key], spec.max_length)
    if label_key is not None and label_key in inputs:
        label = fill_missing(inputs[label_key])
        dtype = tf.float32 if task == "regression" else tf.int64
        outputs[transformed_name(label_key)] = tf.cast(label, dtype)
    return outputs


def transform_from_config(inputs: Mapping[str, Tensor],
                          config: ModelConfig) -> dict[str, tf.Tensor]:
    """``features_transform`` with every argument taken from a model config."""
    return features_transform(
        inputs, **{arg: getattr(config, field) for field, arg in TRANSFORM_ARGS.items()})


def preprocessing_fn(inputs: Mapping[str, Tensor], custom_config: Mapping[str, Any]) -> dict:
    """The default ``preprocessing_fn``: the model named in ``custom_config``."""
    from pipelines.config.registry import load_config, with_overrides

    config = load_config(custom_config["model"])
    if custom_config.get("overrides"):
        config = with_overrides(config, **custom_config["overrides"])
    return transform_from_config(inputs, config)
