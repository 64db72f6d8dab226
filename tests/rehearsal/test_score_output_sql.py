"""The post-step's SQL on the BigQuery emulator, for every output layout it reads (e2e: it
starts the emulators, ~20 s): what a cloud score appends, per task and ``prediction`` form."""

import pytest

from pipelines.cloud.score_output import Column, create_sql, failed_sql, scores_select
from pipelines.config import load_config

pytestmark = pytest.mark.e2e
PROJECT = "fullcycle-dev"
REGRESSION = load_config("basic_template")
BINARY = REGRESSION.model_copy(update={"task": "binary_classification"})
MULTICLASS = REGRESSION.model_copy(update={"task": "multiclass_classification"})


@pytest.fixture(scope="module")
def bigquery(tmp_path_factory):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery as bq

    from tests.rehearsal.emulators import Emulators

    emulators = Emulators(tmp_path_factory.mktemp("emulators"), PROJECT)
    try:
        client = bq.Client(project=PROJECT, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(
                               api_endpoint=f"http://127.0.0.1:{emulators.bq_port}"))
        client.create_dataset("scores")
        yield client
    finally:
        emulators.close()


def _field(name, kind, mode="NULLABLE", fields=()):
    from google.cloud import bigquery as bq

    return bq.SchemaField(name, kind, mode=mode, fields=fields)


CASES = {  # output layout -> (schema, rows, config, expected (id, prediction, class))
    "scalar": ([("id", "INT64"), ("prediction", "FLOAT64")],
               [{"id": 1, "prediction": 0.5}, {"id": 2, "prediction": 0.25}], BINARY,
               [(1, 0.5, 1), (2, 0.25, 0)]),
    "one-element array": ([("id", "INT64"), ("prediction", "FLOAT64", "REPEATED")],
                          [{"id": 1, "prediction": [3.5]}], REGRESSION, [(1, 3.5, None)]),
    "class probabilities": ([("id", "INT64"), ("prediction", "FLOAT64", "REPEATED")],
                            [{"id": 1, "prediction": [0.1, 0.7, 0.2]},
                             {"id": 2, "prediction": [0.4, 0.2, 0.4]}], MULTICLASS,
                            [(1, [0.1, 0.7, 0.2], 1), (2, [0.4, 0.2, 0.4], 0)]),
    "json text": ([("id", "INT64"), ("prediction", "STRING")],
                  [{"id": 1, "prediction": "0.25"}, {"id": 2, "prediction": "[0.75]"}],
                  REGRESSION, [(1, 0.25, None), (2, 0.75, None)]),
    "json probabilities": ([("id", "INT64"), ("prediction", "STRING")],
                           [{"id": 1, "prediction": "[0.1, 0.7, 0.2]"}], MULTICLASS,
                           [(1, [0.1, 0.7, 0.2], 1)]),
}


@pytest.mark.parametrize("layout", CASES)
def test_each_output_layout_gives_the_local_columns(bigquery, layout):
    from google.cloud import bigquery as bq

    fields, rows, config, expected = CASES[layout]
    table = f"{PROJECT}.scores.{layout.replace(' ', '_')}"
    bigquery.create_table(bq.Table(table, schema=[_field(*f) for f in fields]))
    assert bigquery.insert_rows_json(table, rows) == []
    columns = [Column.of(f) for f in bigquery.get_table(table).schema]
    parameters = [bq.ScalarQueryParameter("model_version", "STRING", "1796"),
                  bq.ScalarQueryParameter("scored_at", "TIMESTAMP", "2026-12-06T06:00:00Z"),
                  bq.ScalarQueryParameter("score_id", "STRING", "score-m-s1")]
    found = sorted((dict(r) for r in bigquery.query(
        scores_select(config, table, columns),
        job_config=bq.QueryJobConfig(query_parameters=parameters)).result()),
        key=lambda r: r["id"])
    assert [(r["id"], r["prediction"], r.get("predicted_class")) for r in found] == expected
    assert {(r["model_version"], r["score_id"]) for r in found} == {("1796", "score-m-s1")}


def test_rows_vertex_could_not_predict_are_left_out_and_counted(bigquery):
    from google.cloud import bigquery as bq

    table = f"{PROJECT}.scores.with_errors"
    errors = _field("errors", "RECORD", fields=(_field("code", "INT64"),
                                                 _field("message", "STRING")))
    bigquery.create_table(bq.Table(table, schema=[
        _field("id", "INT64"), _field("prediction", "RECORD", fields=(
            _field("outputs", "FLOAT64"),)), errors]))
    assert bigquery.insert_rows_json(table, [
        {"id": 1, "prediction": {"outputs": 0.7}},
        {"id": 2, "errors": {"code": 3, "message": "feature 'x': bad value"}}]) == []
    columns = [Column.of(f) for f in bigquery.get_table(table).schema]
    parameters = [bq.ScalarQueryParameter(n, t, v) for n, t, v in (
        ("model_version", "STRING", "1"), ("scored_at", "TIMESTAMP", "2026-12-06T06:00:00Z"),
        ("score_id", "STRING", "s"))]
    found = [dict(r) for r in bigquery.query(scores_select(BINARY, table, columns),
                                             job_config=bq.QueryJobConfig(
                                                 query_parameters=parameters)).result()]
    assert [(r["id"], r["prediction"], r["predicted_class"]) for r in found] == [(1, 0.7, 1)]
    (failed,) = [dict(r) for r in bigquery.query(failed_sql(table, columns)).result()]
    assert failed == {"n": 1, "message": "feature 'x': bad value"}


def test_the_post_steps_expiry_patch_is_taken_by_the_emulator(bigquery):
    """The post-step's tables.patch of the output table's expiration runs on the emulator
    (which takes it but keeps no expirationTime: the value is checked over the HTTP fake,
    tests/runner/test_vertex_score_append.py); a table gone already is no error."""
    from google.cloud import bigquery as bq

    from pipelines.cloud.score_append import _BigQuery

    table = f"{PROJECT}.scores.output_to_expire"
    bigquery.create_table(bq.Table(table, schema=[_field("id", "INT64")]))
    client = _BigQuery.__new__(_BigQuery)  # the post-step's calls, on the emulator's client
    client.client = bigquery
    client.expire(table, 7)
    client.expire(f"{PROJECT}.scores.no_such_table", 7)
    assert [f.name for f in bigquery.get_table(table).schema] == ["id"]


def test_the_clustered_destination_is_created_on_the_emulator(bigquery):
    from google.cloud import bigquery as bq

    table = f"{PROJECT}.scores.clustered_output"
    bigquery.create_table(bq.Table(table, schema=[_field("id", "INT64"),
                                                  _field("prediction", "FLOAT64")]))
    columns = [Column.of(f) for f in bigquery.get_table(table).schema]
    destination = f"{PROJECT}.scores.clustered_predictions"
    for _ in range(2):  # a repeated post-step: created once
        bigquery.query(create_sql(destination, scores_select(BINARY, table, columns,
                                                             True))).result()
    assert [f.name for f in bigquery.get_table(destination).schema] == [
        "id", "prediction", "predicted_class", "model_version", "scored_at", "score_id"]
