"""The Vertex AI batch prediction job of a scheduled score, through the real aiplatform client
over a fake Vertex AI: what is sent (model version, BigQuery URIs, service account, excluded
fields, labels), and one job per schedule time however often the request is retried."""

import datetime as dt

import pytest
from google.auth.credentials import AnonymousCredentials

from pipelines.cloud.batch_prediction import (
    batch_prediction_job,
    check_locations,
    create_job,
    rows_table_sql,
    scoring_view_sql,
)
from pipelines.cloud.target import CloudTarget
from pipelines.config import load_config
from pipelines.config.errors import FullcycleError
from tests.support.google_http import intercepted
from tests.support.vertex_batch import FakeBatchPrediction

MODEL = "taxi_tips"
WHEN = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.timezone.utc)
SCORE = "score-taxi-tips-s0123456789abcdef0123"
VERSION = "projects/fullcycle-dev/locations/europe-west4/models/4242@3"


@pytest.fixture
def target():
    return CloudTarget.from_stack(MODEL, "dev")


@pytest.fixture
def vertex(monkeypatch, target):
    with intercepted(monkeypatch, FakeBatchPrediction(target.project, target.region)) as fake:
        yield fake


def create(target, job) -> str:
    return create_job(target.project, target.region, job, AnonymousCredentials())


def job_for(target, config=None, when=WHEN, score_id=SCORE, **changes):
    settings = {"machine_type": "n1-standard-4", "starting_replicas": 1, "max_replicas": 3,
                **changes}
    return batch_prediction_job(config or load_config(MODEL), project=target.project,
                                dataset=target.dataset, model_version=VERSION,
                                service_account=target.service_account, labels=target.labels,
                                score_id=score_id, requested=when, **settings)


def test_the_request_vertex_receives(vertex, target):
    name = create(target, job_for(target))
    (sent,) = vertex.created
    assert name == vertex.jobs[name]["name"]
    assert sent["model"] == VERSION
    assert sent["inputConfig"]["bigquerySource"]["inputUri"] == \
        f"bq://{target.project}.fc_taxi_tips.taxi_tips_score_rows_s0123456789abcdef0123"
    assert sent["outputConfig"]["bigqueryDestination"]["outputUri"] == \
        f"bq://{target.project}.fc_taxi_tips.taxi_tips_predictions_20261206t1000z_" \
        "s0123456789abcdef0123"
    assert sent["instanceConfig"] == {"instanceType": "object", "excludedFields": ["trip_id"]}
    assert sent["serviceAccount"] == target.service_account
    assert sent["labels"] == {**target.labels, "fullcycle-score": SCORE}
    assert sent["dedicatedResources"] == {"machineSpec": {"machineType": "n1-standard-4"},
                                          "startingReplicaCount": 1, "maxReplicaCount": 3}


def test_a_retried_request_finds_its_job(vertex, target):
    first = create(target, job_for(target))
    assert create(target, job_for(target)) == first
    # the same score asked again a minute later (an Idempotency-Key retry): the same job
    assert create(target, job_for(target, when=WHEN + dt.timedelta(minutes=1))) == first
    later = create(target, job_for(target, when=WHEN + dt.timedelta(days=1),
                                   score_id="score-taxi-tips-s99999999999999999999"))
    assert later != first and len(vertex.created) == 2


def test_two_instances_racing_keep_one_job(vertex, target):
    def other_instance(job):  # it listed nothing either, and created its job first
        other = {**job, "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {
            "outputUri": job["outputConfig"]["bigqueryDestination"]["outputUri"] + "_x"}}}
        vertex.jobs[f"{vertex.parent}/batchPredictionJobs/0"] = {
            **other, "name": f"{vertex.parent}/batchPredictionJobs/0",
            "state": "JOB_STATE_RUNNING", "createTime": "2026-12-06T09:59:00Z"}

    vertex.before_create = other_instance
    name = create(target, job_for(target))
    assert name == f"{vertex.parent}/batchPredictionJobs/0"  # the older job answers
    (ours,) = vertex.cancelled
    assert ours != name and vertex.jobs[ours]["state"] == "JOB_STATE_CANCELLING"
    assert create(target, job_for(target)) == name  # and keeps answering


def test_vertex_refusals_are_named(vertex, target):
    with pytest.raises(FullcycleError, match="creating batch prediction job fc-taxi-tips-score-"
                                             "20261206t1000z failed: 400 .*starting_replica_count "
                                             "must be between 1 and max_replica_count"):
        create(target, job_for(target, starting_replicas=4))


def test_the_view_reads_keys_columns_and_features_never_the_label():
    config = load_config(MODEL)
    types = {f: "float" for f in config.raw_feature_keys}
    types.update(payment_type="string", company="string", trip_start_hour="int")
    sql = scoring_view_sql(config, "fullcycle-dev", "fc_taxi_tips", types)
    assert sql.startswith("SELECT `trip_id`, IFNULL(`trip_miles`, CAST('NaN' AS FLOAT64)) AS "
                          "`trip_miles`, ")
    assert "IFNULL(`company`, '') AS `company`" in sql
    assert "IFNULL(`trip_start_hour`, -9223372036854775808) AS `trip_start_hour`" in sql
    assert "FROM (SELECT *, CAST(COALESCE(tips > fare * 0.2, FALSE) AS INTEGER) AS big_tipper " \
           "FROM `fullcycle-dev.fc_taxi_tips`.taxi_trips) AS source" in sql
    assert "big_tipper`" not in sql.split("FROM")[0]


def test_the_rows_table_is_the_scores_own_and_expires():
    config = load_config(MODEL)
    types = {f: "float" for f in config.raw_feature_keys}
    types.update(payment_type="string", company="string", trip_start_hour="int")
    sql = rows_table_sql(config, "fullcycle-dev", "fc_taxi_tips", types, SCORE)
    assert sql.startswith("CREATE OR REPLACE TABLE "
                          "`fullcycle-dev.fc_taxi_tips.taxi_tips_score_rows_s0123456789abcdef0123`")
    assert "INTERVAL 7 DAY" in sql
    assert sql.endswith(scoring_view_sql(config, "fullcycle-dev", "fc_taxi_tips", types))


def test_a_dataset_outside_the_jobs_region_is_refused_naming_both():
    """Vertex AI batch prediction reads and writes BigQuery in the job's region (or its
    multi-region): the dev stack's taxi_tips (dataset in US, jobs in europe-west4) is told so
    before any table or job is made, instead of a failing job every tick."""
    from pipelines.config.errors import ConfigError

    for region, location in (("europe-west4", "EU"), ("europe-west4", "europe-west4"),
                             ("us-central1", "US"), ("us-central1", "us-central1")):
        check_locations("m", region, location)
    with pytest.raises(ConfigError, match=r"model 'taxi_tips' cannot be batch scored in region "
                                          r"'europe-west4': its dataset is in BigQuery "
                                          r"location 'US'"):
        check_locations("taxi_tips", "europe-west4", "US")
    with pytest.raises(ConfigError, match="location 'europe-west1'"):
        check_locations("m", "europe-west4", "europe-west1")
