"""``POST /scores`` and ``GET /scores/{id}`` on the Vertex backend, as Cloud Run serves them.

Each "instance" is a runner app of its own; they share only the fake Vertex AI
(registry, endpoint, batch prediction jobs), BigQuery and GCS behind the real
Google clients. The score is the BatchPredictionJob, found by its score label; once
it SUCCEEDED, the post-step appends its output to the destination, once
(tests/runner/test_vertex_score_append.py).
"""

import json

from tests.support.google_fakes import PARENT
from tests.support.score_runner import ACCOUNT, BUCKET, MODEL, TICK, deploy


def test_a_scheduled_score_is_one_job_of_the_champion_read_anywhere(cloud, instance):
    deploy(cloud, ("501", "2", 90), ("502", "3", 10))  # a canary of version 3 at 10 %
    first = instance().post("/scores", json={"model": MODEL}, headers=TICK)
    again = instance().post("/scores", json={"model": MODEL}, headers=TICK)  # a retry
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    score = first.json()
    assert score["run_id"].startswith("score-basic-template-s")
    assert again.json()["run_id"] == score["run_id"] and again.json()["duplicate"]
    (sent,) = cloud.batch.created  # one job for the tick
    assert sent["model"] == f"{PARENT}/models/100@2"  # the champion, not the canary
    assert sent["serviceAccount"] == ACCOUNT
    assert sent["labels"]["fullcycle-score"] == score["run_id"]
    assert sent["labels"]["trigger"] == "scheduler" and sent["labels"]["model"] == \
        "basic-template"
    assert sent["displayName"] == "fc-basic-template-score-20261206t0600z"
    assert sent["instanceConfig"]["excludedFields"] == ["id"]
    (table,) = cloud.cloud.bigquery.created_tables  # the rows the job reads, made first
    assert sent["inputConfig"]["bigquerySource"]["inputUri"] == f"bq://{table}"
    sql = cloud.cloud.bigquery.created_tables[table]
    assert "IFNULL(`categorical_feature`, '')" in sql and "CAST('NaN' AS FLOAT64)" in sql
    # the stack's scoring settings (defaults here) size the job
    assert sent["dedicatedResources"]["machineSpec"]["machineType"] == "n1-standard-4"
    assert score["state"] == "QUEUED" and score["trigger"] == "scheduler"
    assert score["model"] == MODEL and score["detail"]["model_version"] == sent["model"]

    fresh = instance()  # nothing of the score is kept in an instance
    job = cloud.batch.jobs[score["detail"]["batch_prediction_job"]]
    for state, expected in (("JOB_STATE_RUNNING", "RUNNING"),  # SUCCEEDED: tests below
                            ("JOB_STATE_FAILED", "FAILED"), ("JOB_STATE_CANCELLED", "CANCELLED")):
        job["state"] = state
        assert fresh.get(f"/scores/{score['run_id']}").json()["state"] == expected
    assert fresh.get("/scores/score-basic-template-s0").status_code == 404
    assert fresh.get("/scores/not-a-score").status_code == 404


def test_an_idempotency_key_names_one_score_and_another_tick_another(cloud, instance):
    deploy(cloud, ("501", "1", 100))
    runner = instance()
    key = {"Idempotency-Key": "campaign-2026-12-07"}
    first = runner.post("/scores", json={"model": MODEL}, headers=key).json()
    assert runner.post("/scores", json={"model": MODEL}, headers=key).json()["run_id"] == \
        first["run_id"] and first["trigger"] == "api"
    runner.post("/scores", json={"model": MODEL},
                headers={"X-CloudScheduler-ScheduleTime": "2026-12-07T06:00:00Z"})
    assert len(cloud.batch.created) == 2
    assert len({j["outputConfig"]["bigqueryDestination"]["outputUri"]
                for j in cloud.batch.created}) == 2  # each its own output table


def test_refusals_are_answered_and_leave_no_job(cloud, instance):
    runner = instance()
    response = runner.post("/scores", json={"model": MODEL}, headers=TICK)
    assert response.status_code == 503  # nothing deployed yet: a retry may succeed later
    assert "could not start a score of 'basic_template'" in response.json()["error"]
    assert "serves no model" in response.json()["error"]
    assert cloud.batch.created == []
    assert runner.post("/scores", json={"model": "basic_templat"}).status_code == 404
    assert runner.post("/scores", json={}).status_code == 400
    bad = runner.post("/scores", json={"model": MODEL},
                      headers={"X-CloudScheduler-ScheduleTime": "yesterday"})
    assert bad.status_code == 400 and "RFC 3339" in bad.json()["error"]


def test_the_champion_is_found_in_raw_protobuf_deployed_models_too():
    """The SDK's endpoint resource may hold raw protobuf messages, whose create_time is a
    Timestamp, not a datetime (seen in a full test run): the champion is found either way."""
    import datetime as dt

    from google.cloud.aiplatform_v1.types import DeployedModel

    from pipelines.runner.vertex_scores import champion_version

    older, newer = (DeployedModel(id=i, model=f"projects/p/locations/r/models/9@{v}",
                                  create_time=dt.datetime(2026, 1, d, tzinfo=dt.timezone.utc))
                    for i, v, d in (("1", "1", 1), ("2", "2", 2)))
    for models in ([older, newer], [DeployedModel.pb(older), DeployedModel.pb(newer)]):
        # a tie in traffic: the older one serves; otherwise the one with the most traffic
        assert champion_version(models, {"1": 50, "2": 50}, "fc-m").endswith("@1")
        assert champion_version(models, {"1": 10, "2": 90}, "fc-m").endswith("@2")
    assert champion_version([DeployedModel(id="3", model="projects/p/locations/r/models/9@3")],
                            {}, "fc-m").endswith("@3")  # no create time yet


def test_what_no_retry_can_change_is_a_422_not_a_retried_503(cloud, instance):
    """Cloud Scheduler retries a 5xx answer: a served model whose inputs batch scoring
    cannot take is answered 422, once, naming the feature and what is allowed."""
    deploy(cloud, ("501", "1", 100))
    cloud.cloud.gcs.put(BUCKET, "models/179610000001/assets.extra/serving.json", json.dumps(
        {"features": {"numeric_feature1": {"dtype": "bool"}}}).encode(), 1796100000.0)
    response = instance().post("/scores", json={"model": MODEL}, headers=TICK)
    assert response.status_code == 422, response.text
    assert "feature 'numeric_feature1' of the served model has dtype 'bool'" in \
        response.json()["error"] and "float32" in response.json()["error"]
    assert cloud.batch.created == []


def test_a_duplicate_job_whose_creator_was_killed_is_stopped_by_the_next_read(cloud,
                                                                               instance):
    """Two instances raced on a tick and the one with the newer job was killed before
    looking for an older one: the score's next read cancels that job (it would run the
    whole score again, for nothing) and answers the older one."""
    deploy(cloud, ("501", "1", 100))
    score = instance().post("/scores", json={"model": MODEL}, headers=TICK).json()
    first = score["detail"]["batch_prediction_job"]
    duplicate = f"{first.rsplit('/', 1)[0]}/99"
    cloud.batch.jobs[duplicate] = {**cloud.batch.jobs[first], "name": duplicate,
                                   "state": "JOB_STATE_RUNNING",
                                   "createTime": "2026-12-06T10:30:00Z"}
    view = instance().get(f"/scores/{score['run_id']}").json()
    assert view["detail"]["batch_prediction_job"] == first
    assert cloud.batch.cancelled == [duplicate]
    instance().get(f"/scores/{score['run_id']}")  # cancelling: not cancelled again
    assert cloud.batch.cancelled == [duplicate]


def test_a_model_whose_dataset_is_outside_the_region_is_a_422_with_nothing_made(cloud,
                                                                               instance):
    response = instance().post("/scores", json={"model": "taxi_tips"}, headers=TICK)
    assert response.status_code == 422, response.text
    assert "its dataset is in BigQuery location 'US'" in response.json()["error"]
    assert cloud.batch.created == [] and cloud.cloud.bigquery.created_tables == {}
