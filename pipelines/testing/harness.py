"""The implementation behind ``pipelines.testing``."""

from __future__ import annotations

import functools
import inspect
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from pipelines.config.model_config import ModelConfig

Row = Mapping[str, Any]


def feature_spec_for_rows(rows: Sequence[Row]) -> dict[str, Any]:
    """A tf.io feature spec inferred from Python rows.

    int -> int64, float -> float32, str -> string; a column with a ``None`` or a
    list anywhere becomes a VarLenFeature (as TFX parses columns with missing
    values); otherwise a scalar FixedLenFeature.
    """
    spec: dict[str, Any] = {}
    for key in dict.fromkeys(k for row in rows for k in row):
        values = [row.get(key) for row in rows]
        flat = [x for v in values if v is not None for x in (v if isinstance(v, list) else [v])]
        if not flat:
            raise ValueError(f"column {key!r} has no values to infer its type from")
        dtype = (tf.string if isinstance(flat[0], str) else
                 tf.float32 if any(isinstance(x, float) for x in flat) else tf.int64)
        varlen = any(v is None or isinstance(v, list) for v in values)
        spec[key] = tf.io.VarLenFeature(dtype) if varlen else tf.io.FixedLenFeature([], dtype)
    return spec


def _instances(rows: Sequence[Row], spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        instance = {}
        for key, feature in spec.items():
            value = row.get(key)
            if isinstance(feature, tf.io.VarLenFeature):
                value = [] if value is None else value if isinstance(value, list) else [value]
            instance[key] = value
        out.append(instance)
    return out


def _serialized(rows: Sequence[Row], spec: Mapping[str, Any]) -> tf.Tensor:
    from pipelines.data.example_gen import _feature

    examples = [tf.train.Example(features=tf.train.Features(
        feature={k: _feature(row.get(k)) for k in spec})).SerializeToString() for row in rows]
    return tf.constant(examples)


def _rows_from_tensors(tensors: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
    columns = {}
    for key, value in tensors.items():
        if isinstance(value, tf.SparseTensor):
            value = tf.sparse.to_dense(value)
        columns[key] = value.numpy()
    return [{k: _plain(v[i]) for k, v in columns.items()} for i in range(n)]


def run_preprocessing_fn(preprocessing_fn: Callable, rows: Sequence[Row],
                         feature_spec: Mapping[str, Any] | None = None,
                         custom_config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Runs ``preprocessing_fn`` with tf.transform on ``rows``; returns transformed rows.

    The analyzers (means, quantiles, vocabularies) run in Beam over exactly these
    rows, as Transform runs them over the whole dataset; the resulting transform
    graph is then applied to the rows parsed from ``tf.Example``s, as serving
    applies it.
    """
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    from pipelines.compat import patch_beam_for_tft
    from pipelines.features.kinds import FORCE_TF_COMPAT_V1

    patch_beam_for_tft()
    spec = dict(feature_spec or feature_spec_for_rows(rows))
    takes_config = "custom_config" in inspect.signature(preprocessing_fn).parameters
    if custom_config is not None and takes_config:
        preprocessing_fn = functools.partial(preprocessing_fn, custom_config=custom_config)
    metadata = tft.DatasetMetadata.from_feature_spec(spec)
    with tempfile.TemporaryDirectory() as tmp:
        with tft_beam.Context(temp_dir=f"{tmp}/tft", force_tf_compat_v1=FORCE_TF_COMPAT_V1), \
                beam.Pipeline(argv=["--direct_running_mode=in_memory"]) as pipeline:
            data = pipeline | "Rows" >> beam.Create(_instances(rows, spec), reshuffle=False)
            transform_fn = (data, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
            _ = transform_fn | tft_beam.WriteTransformFn(f"{tmp}/transform_fn")
        output = tft.TFTransformOutput(f"{tmp}/transform_fn")
        raw = tf.io.parse_example(_serialized(rows, spec), spec)
        # The layer the Trainer and serving use: it loads TF1 and TF2 transform graphs alike.
        return _rows_from_tensors(output.transform_features_layer()(raw), len(rows))


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.ndim else _plain(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _close(actual: Any, expected: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, (list, tuple)):
        return (isinstance(actual, (list, tuple)) and len(actual) == len(expected)
                and all(_close(a, e, rtol, atol) for a, e in zip(actual, expected, strict=False)))
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and math.isclose(actual, expected,
                                                                 rel_tol=rtol, abs_tol=atol)
    return actual == expected


def assert_rows_close(actual: Sequence[Row], expected: Sequence[Row], *, rtol: float = 1e-5,
                      atol: float = 1e-5) -> None:
    """Asserts each expected key of each row matches (floats with tolerance)."""
    assert len(actual) == len(expected), f"got {len(actual)} rows, expected {len(expected)}"
    problems = []
    for i, (got, want) in enumerate(zip(actual, expected, strict=False)):
        for key, value in want.items():
            if key not in got:
                problems.append(f"row {i}: no output {key!r} (outputs: {sorted(got)})")
            elif not _close(got[key], value, rtol, atol):
                problems.append(f"row {i}: {key} = {got[key]!r}, expected {value!r}")
    assert not problems, "transformed rows differ:\n  " + "\n  ".join(problems)


def preprocessing_fn_for(model: str) -> Callable:
    """The ``preprocessing_fn`` the pipeline uses for ``model``, ready to call."""
    import importlib

    from pipelines.config.registry import preprocessing_fn_path

    module, name = preprocessing_fn_path(model).rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    if "custom_config" in inspect.signature(fn).parameters:
        return functools.partial(fn, custom_config={"model": model})
    return fn


def model_for(config: ModelConfig) -> tf.keras.Model:
    """The compiled Keras model the Trainer would build for ``config``."""
    from pipelines.config.registry import custom_model_module
    from pipelines.trainer.builders import build_keras_model

    return build_keras_model(config, custom_model_module(config.name) if config.name else None)


def transformed_batch(rows: Sequence[Row]) -> dict[str, tf.Tensor]:
    """Transformed rows (from ``run_preprocessing_fn``) as a model input batch."""
    batch = {}
    for key in rows[0]:
        values = np.asarray([row[key] for row in rows])
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        batch[key] = tf.constant(values)
    return batch


def example_rows(config: ModelConfig, n: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` raw rows holding every declared feature and the label, drawn to fit the config.

    Floats for dense and bucket features, ids below each categorical feature's
    count, a few strings per vocab feature, sequences up to ``max_length``, and
    labels of the task's kind with every class present. Enough to run a model's
    ``preprocessing_fn`` and model end to end; exact expectations need rows of
    your own.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for i, row in enumerate(rows):
        for key in config.numeric_keys:
            row[key] = float(rng.normal(10.0, 3.0))
        for key, count in config.categorical_int_features.items():
            row[key] = int(rng.integers(0, count))
        for key, spec in config.vocab_features.items():
            row[key] = f"value_{int(rng.integers(0, spec.top_k + 1))}"
        for key, spec in config.sequence_features.items():
            length = int(rng.integers(1, spec.max_length + 1))
            row[key] = [float(v) for v in rng.normal(size=length)]
        if config.task == "regression":
            row[config.label_key] = float(rng.normal())
        else:
            row[config.label_key] = i % (config.num_classes or 2)
    return rows
