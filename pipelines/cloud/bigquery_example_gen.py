"""BigQueryExampleGen whose query results are written to the model's own dataset.

TFX 1.16's BigQueryExampleGen reads each split with Beam's
``ReadFromBigQuery(query=...)`` and no temp dataset, so Beam creates a
``beam_temp_dataset_*`` dataset in the project for the query's results: that
needs ``bigquery.datasets.create`` on the project, which ``bigquery.jobUser``
does not grant. Its ``custom_config`` cannot carry a temp dataset either (Beam
wants a ``DatasetReference`` object; TFX passes the parsed JSON as keyword
arguments). This executor reads the temp dataset from a ``custom_config``
holding a ``Struct`` (``{"temp_dataset": "<project>.<dataset>"}``) and hands Beam a
``DatasetReference``: Beam then writes one ``beam_temp_table_*`` there (the model's
account may create and delete tables in its own dataset) and deletes it after
the export, leaving the dataset in place. The dataset must be in the query's
location (a model's query reads its own dataset, so it is).
"""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam
from tfx.extensions.google_cloud_big_query.example_gen import executor as bigquery_executor
from tfx.proto import example_gen_pb2

TEMP_DATASET_KEY = "temp_dataset"


def temp_dataset_config(dataset: str) -> example_gen_pb2.CustomConfig:
    """The ExampleGen ``custom_config`` naming the temp dataset (``project.dataset``)."""
    from google.protobuf import any_pb2, struct_pb2

    _split(dataset)
    struct = struct_pb2.Struct()
    struct.update({TEMP_DATASET_KEY: dataset})
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def _split(dataset: str) -> tuple[str, str]:
    project, _, dataset_id = dataset.partition(".")
    if not project or not dataset_id or "." in dataset_id:
        raise ValueError(f"temp dataset {dataset!r} is not <project>.<dataset>")
    return project, dataset_id


def temp_dataset(exec_properties: dict[str, Any]) -> str | None:
    """The temp dataset of an ExampleGen's ``custom_config`` (JSON, as TFX passes it), if any."""
    from google.protobuf import json_format, struct_pb2

    raw = exec_properties.get("custom_config")
    if not raw:
        return None
    if isinstance(raw, example_gen_pb2.CustomConfig):
        config = raw
    else:
        config = json_format.Parse(raw if isinstance(raw, str) else json.dumps(raw),
                                   example_gen_pb2.CustomConfig())
    struct = struct_pb2.Struct()
    if not config.custom_config.Unpack(struct) or TEMP_DATASET_KEY not in struct:
        return None
    return struct[TEMP_DATASET_KEY]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def _query_to_examples(pipeline: beam.Pipeline, exec_properties: dict[str, Any],
                       split_pattern: str) -> beam.pvalue.PCollection:
    """One split's query as tf.Examples, its results written to the temp dataset."""
    from apache_beam.io.gcp.internal.clients import bigquery
    from tfx.extensions.google_cloud_big_query import utils

    project = utils.parse_gcp_project(exec_properties["_beam_pipeline_args"])
    converter = bigquery_executor._BigQueryConverter(split_pattern, project)  # noqa: SLF001
    options = {}
    if dataset := temp_dataset(exec_properties):
        project_id, dataset_id = _split(dataset)
        options["temp_dataset"] = bigquery.DatasetReference(projectId=project_id,
                                                            datasetId=dataset_id)
    return (pipeline
            | "QueryTable" >> utils.ReadFromBigQuery(query=split_pattern,
                                                     big_query_custom_config=options)
            | "ToTFExample" >> beam.Map(converter.RowToExample))


class Executor(bigquery_executor.Executor):
    """TFX's BigQueryExampleGen executor, reading through the model's temp dataset."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX's name
        return _query_to_examples
