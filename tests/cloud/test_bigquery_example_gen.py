"""BigQueryExampleGen on Vertex writes its query results to the model's dataset.

Beam's ``ReadFromBigQuery(query=...)`` without a temp dataset creates a
``beam_temp_dataset_*`` in the project (``bigquery.datasets.create``, which the
model's account lacks). The compiled pipeline names the model's dataset, and the
executor hands it to Beam as the ``DatasetReference`` Beam takes.
"""

import json

import apache_beam as beam
import pytest
from apache_beam.io.gcp.internal.clients import bigquery as bq_clients
from apache_beam.testing.util import assert_that
from tfx.utils import proto_utils

from pipelines.cloud import bigquery_example_gen
from pipelines.cloud.bigquery_example_gen import temp_dataset, temp_dataset_config
from pipelines.cloud.compile import compile_pipeline
from pipelines.cloud.target import CloudTarget
from pipelines.config import load_config


def test_the_compiled_example_gen_reads_through_the_model_dataset():
    target = CloudTarget.from_stack("basic_template", "dev")
    spec = compile_pipeline(load_config("basic_template"), target)
    assert "pipelines.cloud.bigquery_example_gen.Executor" in json.dumps(spec)
    task = spec["pipelineSpec"]["root"]["dag"]["tasks"]["BigQueryExampleGen"]
    passed = task["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constantValue"]
    assert temp_dataset({"custom_config": passed["stringValue"]}) == \
        "fullcycle-dev.fc_basic_template" == target.bigquery_temp_dataset


def test_the_temp_dataset_survives_tfx_serialization():
    as_passed = proto_utils.proto_to_json(temp_dataset_config("acme-ml-prod.fc_taxi_tips"))
    assert temp_dataset({"custom_config": as_passed}) == "acme-ml-prod.fc_taxi_tips"
    assert temp_dataset({}) is None
    with pytest.raises(ValueError, match="temp dataset 'fc_taxi_tips' is not <project>.<dataset>"):
        temp_dataset_config("fc_taxi_tips")


def test_each_split_query_hands_beam_the_temp_dataset(monkeypatch):
    from tfx.extensions.google_cloud_big_query import utils

    seen = []

    def read(query, **options):  # Beam's ReadFromBigQuery, recorded
        seen.append((query, options))
        return beam.Create([{"x": 1.5, "word": "a"}])

    class Converter:
        def __init__(self, query, project):
            assert project == "acme-ml-prod"

        def RowToExample(self, row):  # noqa: N802
            return utils.row_to_example({"x": "FLOAT", "word": "STRING"}, row)

    monkeypatch.setattr(utils.bigquery, "ReadFromBigQuery", read)
    monkeypatch.setattr(bigquery_example_gen.bigquery_executor, "_BigQueryConverter", Converter)
    exec_properties = {"_beam_pipeline_args": ["--project=acme-ml-prod"],
                       "custom_config": proto_utils.proto_to_json(
                           temp_dataset_config("acme-ml-prod.fc_taxi_tips"))}
    transform = bigquery_example_gen.Executor().GetInputSourceToExamplePTransform()
    with beam.Pipeline() as pipeline:
        examples = pipeline | transform(exec_properties, "SELECT x, word FROM t")
        assert_that(examples | beam.Map(lambda e: e.features.feature["x"].float_list.value[0]),
                    lambda values: values == [1.5] or pytest.fail(str(values)))
    ((query, options),) = seen
    assert query == "SELECT x, word FROM t" and options["use_standard_sql"] is True
    reference = options["temp_dataset"]
    assert isinstance(reference, bq_clients.DatasetReference)
    assert (reference.projectId, reference.datasetId) == ("acme-ml-prod", "fc_taxi_tips")


def test_beam_bills_and_creates_its_temp_table_in_that_dataset():
    """What Beam does with the reference: the project of its jobs, a user dataset kept."""
    from apache_beam.io.gcp import bigquery_tools
    from apache_beam.io.gcp.bigquery import ReadFromBigQuery, _CustomBigQuerySource
    from apache_beam.options.pipeline_options import PipelineOptions

    reference = bq_clients.DatasetReference(projectId="acme-ml-prod", datasetId="fc_taxi_tips")
    source = _CustomBigQuerySource(method=ReadFromBigQuery.Method.EXPORT, query="SELECT 1",
                                   use_standard_sql=True, temp_dataset=reference,
                                   pipeline_options=PipelineOptions([]))
    assert source._get_project() == "acme-ml-prod"  # noqa: SLF001
    wrapper = bigquery_tools.BigQueryWrapper(client=object(), temp_dataset_id="fc_taxi_tips")
    assert wrapper.is_user_configured_dataset()  # only its temp table is deleted, not it
