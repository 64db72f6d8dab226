"""Batch prediction on this machine: Arrow record batches straight into ``serving_default``.

The local twin of a Vertex AI batch prediction job's workers. Each column of a
record batch becomes the tensor the signature takes, by Arrow's vectorised casts
(no row-by-row Python): a null, or a feature absent from the batch, becomes the
signature's missing marker (NaN, -2**63 or ""), exactly as ``LoadedModel.predict``
treats an instance's null or absent key, and a feature the model cannot take
missing is refused the same way, naming it. Outputs become the score columns:
``prediction`` (the value, the probability of class 1, or one probability per
class) and, for classifiers, ``predicted_class``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config.errors import FullcycleError
from pipelines.features.kinds import MISSING_INT
from pipelines.serving.model_store import LoadedModel, column


def _cast(values: pa.Array, name: str, target: pa.DataType, what: str) -> pa.Array:
    try:
        return pc.cast(values, target)  # safe: 1.5 is not an integer, 'n/a' not a number
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise FullcycleError(f"feature {name!r}: the source column is {values.type}, the model "
                             f"needs {what} ({err})") from None


def _tensor_values(name: str, dtype: str, values: pa.Array) -> np.ndarray:
    """One scalar feature as the signature's dtype, nulls as its missing marker."""
    if dtype == "string":
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            return pc.fill_null(values, b"").to_numpy(zero_copy_only=False)
        strings = _cast(values, name, pa.string(), "text")
        return pc.fill_null(strings, "").to_numpy(zero_copy_only=False)
    if dtype.startswith("float"):
        numbers = _cast(values, name, pa.from_numpy_dtype(np.dtype(dtype)), "a number")
        return pc.fill_null(numbers, float("nan")).to_numpy(zero_copy_only=False)
    numbers = _cast(values, name, pa.int64(), "an integer")
    return pc.fill_null(numbers, MISSING_INT).to_numpy(zero_copy_only=False).astype(dtype)


def feeds(model: LoadedModel, batch: pa.RecordBatch, first_row: int = 0) -> dict[str, Any]:
    """The ``serving_default`` inputs of a record batch (``first_row``: the batch's first row
    number in the whole score, for messages). Raises a FullcycleError naming the feature
    (and the first row) the model cannot take."""
    import tensorflow as tf

    names = set(batch.schema.names)
    result = {}
    for name, spec in model.input_specs.items():
        dtype = spec.dtype.name
        absent = name not in names
        values = pa.nulls(batch.num_rows) if absent else batch.column(name)
        if model.refuses_missing(name, absent) and (absent or values.null_count):
            where = ("the source has no such column" if absent else
                     f"row {first_row + pc.index(pc.is_null(values), True).as_py()} holds null")
            raise FullcycleError(f"feature {name!r}: {where}, and the model has no rule for a "
                                 "missing value of it (as its endpoint refuses such an "
                                 f"instance); the model needs: {', '.join(model.feature_names)}")
        if spec.shape.rank == 2:  # sequences: the endpoint's own padding, row by row
            array = column(name, dtype, True, values.to_pylist())
        else:
            array = _tensor_values(name, dtype, values)
        result[name] = tf.constant(array, spec.dtype)
    return result


def prediction_columns(task: str, outputs: np.ndarray) -> dict[str, pa.Array]:
    """``prediction`` (and ``predicted_class`` for classifiers) from the signature's outputs."""
    if task == "multiclass_classification":
        probabilities = np.asarray(outputs, np.float64)
        prediction = pa.FixedSizeListArray.from_arrays(pa.array(probabilities.reshape(-1)),
                                                       probabilities.shape[1])
        return {"prediction": prediction,
                "predicted_class": pa.array(probabilities.argmax(axis=1).astype(np.int64))}
    values = np.asarray(outputs, np.float64).reshape(-1)
    columns = {"prediction": pa.array(values)}
    if task == "binary_classification":
        columns["predicted_class"] = pa.array((values >= 0.5).astype(np.int64))
    return columns
