"""The row -> ``tf.Example`` mapping of a warehouse's Arrow record batches, as list arrays.

BigQuery's mapping (NULL -> empty feature, BOOLEAN -> int, numbers, text as bytes),
shared by what reads rows as Arrow: ``DuckDBExampleGen`` (``example_gen.py``) encodes
them to ``tf.Example``s, and the score checks (local and cloud) compute their
statistics from them, as TFDV reads examples. Columns Arrow cannot hand over as they
are (dates, times, decimals, lists) go through ``_feature``, the one row-by-row
definition of the mapping.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf


def _feature(value: Any) -> tf.train.Feature:
    """One DuckDB value as a tf.train.Feature (lists for LIST columns)."""
    if value is None:
        return tf.train.Feature()
    values = value if isinstance(value, (list, tuple)) else [value]
    values = [v for v in values if v is not None]
    if not values:
        return tf.train.Feature()
    first = values[0]
    if isinstance(first, (bool, int)):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
    if isinstance(first, (float, decimal.Decimal)):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
    if isinstance(first, (datetime.date, datetime.datetime, datetime.time)):
        values = [v.isoformat() for v in values]
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v if isinstance(v, bytes) else str(v).encode("utf-8") for v in values]))


_KINDS = {"int64_list": pa.int64(), "float_list": pa.float32(), "bytes_list": pa.binary()}


def _single_value_lists(column: pa.Array, values_type: pa.DataType) -> pa.Array:
    """``[v]`` per value and a null list per NULL, the values cast to ``values_type``."""
    valid = pc.is_valid(column)
    counts = pc.cast(valid, pa.int32())
    ends = pc.cumulative_sum(counts).to_numpy(zero_copy_only=False)
    offsets = pa.array([0, *ends.tolist()], pa.int32())
    mask = pa.concat_arrays([pc.invert(valid), pa.array([False])])  # offset i null: list i null
    offsets = pc.if_else(mask, pa.scalar(None, pa.int32()), offsets)
    values = pc.cast(column.drop_null(), values_type, safe=False)
    return pa.ListArray.from_arrays(offsets, values)


def _row_by_row(column: pa.Array, name: str) -> pa.Array:
    """The column through ``_feature``: for types Arrow cannot hand over as they are."""
    features = [_feature(v) for v in column.to_pylist()]
    kinds = {f.WhichOneof("kind") for f in features} - {None}
    if len(kinds) > 1:
        raise ValueError(f"column {name!r} mixes value kinds {sorted(kinds)}")
    kind = kinds.pop() if kinds else "int64_list"
    return pa.array([list(getattr(f, kind).value) if f.WhichOneof("kind") else None
                     for f in features], pa.list_(_KINDS[kind]))


def _as_lists(column: pa.Array, name: str) -> pa.Array:
    """One column as the list array the encoder takes, with ``_feature``'s mapping."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        if pa.types.is_uint64(kind):
            return _row_by_row(column, name)  # beyond int64: _feature's error, not a wrap
        return _single_value_lists(column, pa.int64())
    if pa.types.is_floating(kind):
        return _single_value_lists(column, pa.float32())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) \
            or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return _single_value_lists(column, pa.binary())
    return _row_by_row(column, name)  # dates, times, decimals, lists, anything else


def as_example_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A DuckDB record batch as its tf.Examples decode (a list array per column): what the
    encoder takes, and what TFDV's statistics generators read."""
    lists = [_as_lists(batch.column(i), name) for i, name in enumerate(batch.schema.names)]
    return pa.RecordBatch.from_arrays(lists, batch.schema.names)
