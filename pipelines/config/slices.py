"""Which source columns may slice the evaluation, and how their values are named.

Decided by the data, not the type: a floating-point column is accepted when its
values in the source are few (sklearn's diabetes ``sex`` is DOUBLE 1.0 / 2.0),
since every distinct value becomes a slice of its own. Integer, string and
boolean columns are accepted as they are. The check runs where the source is
read (``fullcycle validate`` and ``run``); the limit is in the README.
"""

from __future__ import annotations

import math

import numpy as np

from pipelines.config.errors import FullcycleError

# Most distinct values a floating-point slice column may have in the source.
MAX_SLICE_VALUES = 50
# DuckDB's and BigQuery's floating-point and decimal types.
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC", "FLOAT4", "FLOAT8",
                         "FLOAT64", "BIGNUMERIC"})
MISSING_VALUE = "(missing)"


def counts_values(sql_type: str) -> bool:
    """Whether a slice column of ``sql_type`` is accepted only with few distinct values."""
    return sql_type.split("(")[0].strip().upper() in FLOAT_TYPES


def check_slice_values(config, column: str, sql_type: str, distinct: int) -> None:
    """Refuses a floating-point slice column with more than MAX_SLICE_VALUES values,
    naming the setting, the column, its type, the count and the limit."""
    if not counts_values(sql_type) or distinct <= MAX_SLICE_VALUES:
        return
    settings = [name for name, columns in (
        ("eval_slices", config.eval_slices),
        ("fairness.slice_by", config.fairness.slice_by if config.fairness else ()))
        if column in columns]
    raise FullcycleError(
        f"model {config.name!r}: {' and '.join(settings)} column {column!r} is {sql_type} "
        f"with {distinct} distinct values in the source; a floating-point slice column may "
        f"have at most {MAX_SLICE_VALUES} (each value is a slice): slice by a column with few "
        "values, or bucketize it in the source query (e.g. CAST(FLOOR(x / 10) AS INTEGER))")


def slice_label(value) -> str:
    """A slice value as people read it: integral floats without ``.0`` (``sex=1``), other
    floats at their own precision (float32 0.1 is ``0.1``), bytes decoded."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING_VALUE
        # tf.Example floats are float32: print the shortest text that reads back as it.
        return np.format_float_positional(np.float32(value), trim="-")
    return str(value)
