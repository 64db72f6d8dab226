"""DuckDBExampleGen: the local twin of TFX's BigQueryExampleGen.

Same base class (``QueryBasedExampleGen``), same input config (one SQL query per
split, from ``pipelines.data.splits``), same row -> ``tf.Example`` mapping as
BigQuery's (NULL -> empty feature, BOOLEAN -> int). Two extra execution
parameters carry the warehouse path and a fingerprint of the source rows: the
component is cached while the data is unchanged and re-runs as soon as it changes.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor, driver, utils
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import Channel, ComponentSpec, standard_artifacts
from tfx.types.component_spec import ExecutionParameter
from tfx.types.standard_component_specs import QueryBasedExampleGenSpec

from pipelines.data.splits import SplitQuery, input_config


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


def _query_examples(query: str, warehouse: str):
    """Runs ``query`` on the warehouse and yields one tf.Example per row."""
    from pipelines.data.warehouse import connect

    con = connect(warehouse, read_only=True)
    try:
        cursor = con.execute(query)
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(4096):
            for row in rows:
                yield tf.train.Example(features=tf.train.Features(
                    feature={n: _feature(v) for n, v in zip(names, row, strict=True)}))
    finally:
        con.close()


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _DuckDBToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any],  # noqa: N802
                     split_pattern: str) -> beam.pvalue.PCollection:
    """Reads one split's query from the DuckDB warehouse as tf.Examples."""
    return (pipeline
            | "Query" >> beam.Create([split_pattern])
            | "ToTFExample" >> beam.FlatMap(_query_examples, exec_properties["warehouse"]))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Generic executor for DuckDBExampleGen."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802
        return _DuckDBToExample


class DuckDBExampleGenSpec(ComponentSpec):
    """QueryBasedExampleGen's spec plus the warehouse path and data fingerprint."""

    PARAMETERS = {
        **QueryBasedExampleGenSpec.PARAMETERS,
        "warehouse": ExecutionParameter(type=str),
        "data_fingerprint": ExecutionParameter(type=str),
    }
    INPUTS: dict = {}
    OUTPUTS = QueryBasedExampleGenSpec.OUTPUTS


class DuckDBExampleGen(base_beam_component.BaseBeamComponent):
    """ExampleGen reading one SQL query per split from the local DuckDB warehouse."""

    SPEC_CLASS = DuckDBExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = driver.QueryBasedDriver

    def __init__(self, split_queries: list[SplitQuery], warehouse: str, data_fingerprint: str):
        config = input_config(split_queries)
        super().__init__(spec=DuckDBExampleGenSpec(
            input_config=config,
            output_config=utils.make_default_output_config(config),
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            warehouse=warehouse,
            data_fingerprint=data_fingerprint,
            examples=Channel(type=standard_artifacts.Examples),
        ))

