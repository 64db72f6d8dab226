"""The kinds of feature a config declares: one entry each, read by every layer.

A kind says which ``ModelConfig`` field declares it, which ``features_transform``
argument takes it, which column types the data may hold for it (the DataGate's
check), and what the Keras model receives (input kind, transformed name and
width). A new kind is one entry here plus its transform in ``transform.py``.
Listed in the order the prebuilt models take their inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.features.naming import bucketized_name, transformed_name

NUMERIC = ("INT", "FLOAT")  # schema (tensorflow_metadata FeatureType) names
MISSING_INT = -(2**63)  # serving_default's marker of a missing integer (NaN and "" for the rest)


@dataclass(frozen=True)
class FeatureKind:
    field: str  # the ModelConfig field declaring features of this kind
    transform_arg: str  # the features_transform parameter taking them
    schema_types: tuple[str, ...]  # the column types the data may hold
    model_input: str  # "numeric" | "categorical" | "sequence"
    output_name: Callable[[str], str]  # the transformed feature's name
    width: Callable[[Any], int]  # the model input's width, from the feature's spec


FEATURE_KINDS: tuple[FeatureKind, ...] = (
    FeatureKind("dense_float_features", "dense_features", NUMERIC, "numeric",
                transformed_name, lambda _: 1),
    FeatureKind("bucket_features", "bucket_features", NUMERIC, "categorical",
                bucketized_name, lambda buckets: buckets),
    FeatureKind("vocab_features", "vocab_features", ("BYTES", "INT"), "categorical",
                transformed_name, lambda spec: spec.top_k + spec.num_oov_buckets),
    FeatureKind("categorical_int_features", "categorical_int_features", ("INT",), "categorical",
                transformed_name, lambda count: count + 1),  # + one id for anything else
    FeatureKind("sequence_features", "sequence_features", NUMERIC, "sequence",
                transformed_name, lambda spec: spec.max_length),
)

# Config fields besides the feature declarations that the transform reads.
TRANSFORM_SETTINGS = {"task": "task", "label_key": "label_key", "imputation": "imputation",
                      "scaling": "scaling"}
# Every config field Transform reads -> the features_transform argument it becomes. A run
# override of any other field (train_steps, ...) must not re-run Transform.
TRANSFORM_ARGS = {**{kind.field: kind.transform_arg for kind in FEATURE_KINDS},
                  **TRANSFORM_SETTINGS}
TRANSFORM_FIELDS = frozenset(TRANSFORM_ARGS)


def declared(config, kind: FeatureKind) -> list[tuple[str, Any]]:
    """``(column, spec)`` of each feature of ``kind`` in ``config`` (spec None for a list)."""
    value = getattr(config, kind.field)
    return list(value.items()) if isinstance(value, dict) else [(key, None) for key in value]

# Transform traces ``preprocessing_fn`` as a TF1 graph (once per analysis phase) rather
# than as tf.functions: the same transform graph, saved as a TF1 SavedModel that the
# Trainer and serving load as before, for about a third less of Transform's fixed
# cost. The testing harness runs tf.Transform in the same mode, so a function that
# passes its tests behaves the same in the pipeline.
FORCE_TF_COMPAT_V1 = True
