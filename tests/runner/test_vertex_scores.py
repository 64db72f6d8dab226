"""``POST /scores`` and ``GET /scores/{id}`` on the Vertex backend, as Cloud Run serves them.

Each "instance" is a runner app of its own; they share only the fake Vertex AI
(registry, endpoint, batch prediction jobs), BigQuery and GCS behind the real
Google clients. The score is the BatchPredictionJob, found by its score label; once
it SUCCEEDED, the post-step appends its output to the destination, once.
"""

import json

import google.auth
import pytest
from fastapi.testclient import TestClient
from google.auth.credentials import AnonymousCredentials

from pipelines.config import load_config
from pipelines.settings import Workspace
from tests.support.google_fakes import PARENT, PROJECT, REGION, FakeGoogleCloud
from tests.support.google_http import intercepted
from tests.support.score_bigquery import FakeScoreBigQuery
from tests.support.vertex_batch import FakeBatchPrediction, FakeScoringCloud

MODEL = "basic_template"
BUCKET = "fullcycle-dev-fc-basic-template"
TICK = {"X-CloudScheduler-ScheduleTime": "2026-12-06T06:00:00Z"}
ACCOUNT = "fc-basic-template@fullcycle-dev.iam.gserviceaccount.com"


def deploy(cloud, *deployed: tuple[str, str, int]) -> None:
    """Registry versions of the model and the endpoint serving them: (id, version, traffic)."""
    serving = {"features": {f: {"dtype": "string" if f.startswith("categorical") else
                                "float32", "sequence": False, "optional": True}
                            for f in load_config(MODEL).raw_feature_keys}}
    registry = cloud.cloud.registry
    registry.models["100"] = {"displayName": "fc-basic-template", "aliases": {}, "artifacts": {},
                              "default": "1", "labels": {"app": "fullcycle"}}
    for n, (deployed_id, version, traffic) in enumerate(deployed):
        folder = f"models/17961000000{version}"
        registry.models["100"]["aliases"][version] = [f"v{version}"]
        registry.models["100"]["artifacts"][version] = f"gs://{BUCKET}/{folder}"
        cloud.cloud.gcs.put(BUCKET, f"{folder}/assets.extra/serving.json",
                            json.dumps(serving).encode(), 1796100000.0)
        registry.endpoint["deployedModels"].append({
            "id": deployed_id, "model": f"{PARENT}/models/100", "modelVersionId": version,
            "createTime": f"2026-11-29T10:0{n}:00Z"})
        registry.endpoint["trafficSplit"][deployed_id] = traffic


@pytest.fixture
def cloud(monkeypatch):
    monkeypatch.setattr(google.auth, "default",
                        lambda *a, **kw: (AnonymousCredentials(), PROJECT))
    services = FakeGoogleCloud({BUCKET})
    services.bigquery = FakeScoreBigQuery()
    fake = FakeScoringCloud(services, FakeBatchPrediction(PROJECT, REGION))
    with intercepted(monkeypatch, fake):
        yield fake


@pytest.fixture
def instance(tmp_path):
    """A new runner instance (its own home) each call, as Cloud Run starts one."""
    from pipelines.runner.app import runner_app

    count = iter(range(100))

    def start() -> TestClient:
        home = tmp_path / f"instance-{next(count)}"
        return TestClient(runner_app("vertex", "dev", Workspace(home, home / "warehouse")))

    return start


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


# -- the post-step: a SUCCEEDED job's output appended to the destination, once.

OUTPUT_ROWS = [{"id": i, "prediction": i / 10} for i in range(5)]


def finished(cloud, runner, tick: dict[str, str] = TICK) -> tuple[str, str]:
    """A scheduled score whose job SUCCEEDED: (score id, destination table)."""
    if not cloud.cloud.registry.endpoint["deployedModels"]:
        deploy(cloud, ("501", "2", 100))
    score = runner.post("/scores", json={"model": MODEL}, headers=tick).json()
    job = cloud.batch.jobs[score["detail"]["batch_prediction_job"]]
    bigquery = cloud.cloud.bigquery
    rows = job["inputConfig"]["bigquerySource"]["inputUri"].removeprefix("bq://")
    bigquery.table(rows, [{"name": "id", "type": "INTEGER"},
                          {"name": "numeric_feature1", "type": "FLOAT"}],
                   [{"id": r["id"], "numeric_feature1": 1.0} for r in OUTPUT_ROWS])
    output = job["outputConfig"]["bigqueryDestination"]["outputUri"].removeprefix("bq://")
    bigquery.table(output, [{"name": "id", "type": "INTEGER"},  # what the job wrote
                            {"name": "prediction", "type": "FLOAT"}], OUTPUT_ROWS)
    job["state"] = "JOB_STATE_SUCCEEDED"
    return score["run_id"], f"{PROJECT}.fc_basic_template.basic_template_predictions"


def test_two_instances_reading_a_finished_score_append_it_once(cloud, instance):
    one, two = instance(), instance()
    score_id, destination = finished(cloud, one)
    seen = {}  # what the other instance answers while the first one appends
    cloud.cloud.bigquery.before_insert = lambda: seen.update(
        two=two.get(f"/scores/{score_id}").json())
    first = one.get(f"/scores/{score_id}").json()
    assert seen["two"]["state"] == "RUNNING" and seen["two"]["detail"]["status"] == \
        "appending", seen
    assert first["state"] == "SUCCEEDED" and first["detail"]["rows"] == 5, first
    rows = cloud.cloud.bigquery.tables[destination]
    assert [(r["id"], r["prediction"], r["score_id"], r["model_version"]) for r in rows] == [
        (r["id"], r["prediction"], score_id, "179610000002") for r in OUTPUT_ROWS]
    later = two.get(f"/scores/{score_id}").json()  # the marker answers: nothing runs again
    assert later["state"] == "SUCCEEDED" and later["detail"]["rows"] == 5
    assert cloud.cloud.bigquery.inserts == 1 and len(rows) == 5
    objects = {n for b, n in cloud.cloud.gcs.objects if b == BUCKET}
    assert f"scores/{score_id}.json" in objects and f"scores/{score_id}.lease" not in objects


class Killed(BaseException):
    """The instance dies (nothing after this point runs)."""


def test_a_kill_between_the_insert_and_the_marker_appends_nothing_twice(cloud, instance,
                                                                        monkeypatch):
    import time

    from pipelines.cloud import score_append
    from pipelines.runner.vertex_scores import VertexScores

    score_id, destination = finished(cloud, instance())
    write_marker, kills = score_append._write_marker, [Killed()]

    def killed_once(*args, **kwargs):
        if kills:
            raise kills.pop()
        return write_marker(*args, **kwargs)

    monkeypatch.setattr(score_append, "_write_marker", killed_once)
    with pytest.raises(Killed):
        VertexScores("dev", AnonymousCredentials()).get(score_id)
    assert len(cloud.cloud.bigquery.tables[destination]) == 5  # inserted, no marker
    # what the kill left: the score's lease, held by nobody, expired since
    cloud.cloud.gcs.put(BUCKET, f"scores/{score_id}.lease", json.dumps(
        {"owner": "dead", "holder": "a killed append", "expires": time.time() - 1}).encode(),
        time.time() - 3600)
    view = instance().get(f"/scores/{score_id}").json()
    assert view["state"] == "SUCCEEDED" and view["detail"]["rows"] == 5, view
    assert len(cloud.cloud.bigquery.tables[destination]) == 5
    assert cloud.cloud.bigquery.inserts == 1  # the rows were found; no second INSERT


def test_a_destination_with_other_columns_is_refused_and_left_as_it_is(cloud, instance):
    runner = instance()
    score_id, destination = finished(cloud, runner)
    cloud.cloud.bigquery.table(destination, [{"name": "id", "type": "INTEGER"}], [{"id": 7}])
    view = runner.get(f"/scores/{score_id}").json()
    assert view["state"] == "FAILED" and "exists with columns id" in view["error"], view
    assert cloud.cloud.bigquery.tables[destination] == [{"id": 7}]


def test_the_next_post_appends_an_earlier_score_nobody_read(cloud, instance):
    runner = instance()
    score_id, destination = finished(cloud, runner)
    later = runner.post("/scores", json={"model": MODEL},
                        headers={"X-CloudScheduler-ScheduleTime": "2026-12-07T06:00:00Z"})
    assert later.status_code == 202 and later.json()["run_id"] != score_id
    assert {r["score_id"] for r in cloud.cloud.bigquery.tables[destination]} == {score_id}


def test_a_holder_whose_lease_was_broken_meanwhile_does_not_insert(cloud, instance,
                                                                   monkeypatch):
    """A post-step slower than its lease: another instance broke the expired lease and took
    it. Two INSERT ... WHERE NOT EXISTS at once would both append, so the first holder
    stops before its INSERT; the lease it extends before inserting outlasts the INSERT."""
    import time

    from pipelines.cloud import score_append

    runner = instance()
    score_id, destination = finished(cloud, runner)
    lease, check = f"scores/{score_id}.lease", score_append._check
    other = json.dumps({"owner": "other", "holder": "another instance's append",
                        "expires": time.time() + 1800}).encode()

    def slow_check(*args, **kwargs):  # the holder's lease expired meanwhile and was taken
        check(*args, **kwargs)
        cloud.cloud.gcs.put(BUCKET, lease, other, time.time())

    monkeypatch.setattr(score_append, "_check", slow_check)
    view = runner.get(f"/scores/{score_id}").json()
    assert view["state"] == "RUNNING" and view["detail"]["status"] == "appending", view
    assert "another request is appending it" in view["detail"]["note"]
    assert cloud.cloud.bigquery.inserts == 0
    assert cloud.cloud.bigquery.tables.get(destination, []) == []
    assert cloud.cloud.gcs.objects[BUCKET, lease]["data"] == other  # not released by it

    monkeypatch.setattr(score_append, "_check", check)
    del cloud.cloud.gcs.objects[BUCKET, lease]  # the other holder died; its lease is gone
    held = {}
    cloud.cloud.bigquery.before_insert = lambda: held.update(json.loads(
        cloud.cloud.gcs.objects[BUCKET, lease]["data"]))
    view = instance().get(f"/scores/{score_id}").json()
    assert view["state"] == "SUCCEEDED" and view["detail"]["rows"] == 5, view
    assert held["expires"] >= time.time() + score_append.QUERY_TIMEOUT_SECONDS


def test_a_post_starts_no_catch_up_once_it_has_taken_its_time(cloud, instance, monkeypatch):
    """Catching up runs inside POST /scores: it must not spend the Scheduler's attempt
    deadline (a timed-out attempt is retried, and Cloud Run throttles what it left)."""
    from pipelines.runner import vertex_scores

    runner = instance()
    jobs, earlier = cloud.batch.jobs.values(), []
    for day in (4, 5):
        for job in jobs:  # none finished yet when the next score is posted
            job["state"] = "JOB_STATE_RUNNING"
        tick = {"X-CloudScheduler-ScheduleTime": f"2026-12-0{day}T06:00:00Z"}
        earlier.append(finished(cloud, runner, tick))
    for job in jobs:
        job["state"] = "JOB_STATE_SUCCEEDED"
    clock = [1000.0]
    monkeypatch.setattr(vertex_scores.time, "monotonic", lambda: clock[0])
    finalize = vertex_scores.VertexScores.finalize

    def slow(self, job):  # each post-step takes longer than the whole budget
        clock[0] += vertex_scores.CATCH_UP_SECONDS + 1
        return finalize(self, job)

    monkeypatch.setattr(vertex_scores.VertexScores, "finalize", slow)
    later = runner.post("/scores", json={"model": MODEL}, headers=TICK)
    assert later.status_code == 202, later.text
    destination = earlier[0][1]
    assert {r["score_id"] for r in cloud.cloud.bigquery.tables[destination]} == \
        {earlier[1][0]}  # the newest one nobody read; the other waits for the next POST
    assert runner.get(f"/scores/{earlier[0][0]}").json()["state"] == "SUCCEEDED"


def test_a_finished_score_leaves_its_output_table_to_expire(cloud, instance):
    """Vertex AI writes each score's predictions to a table of its own; once they are in
    the destination (or refused), that table expires instead of staying for ever."""
    import time

    from pipelines.cloud.score_append import OUTPUT_TABLE_DAYS

    runner = instance()
    score_id, destination = finished(cloud, runner)
    job = next(iter(cloud.batch.jobs.values()))
    output = job["outputConfig"]["bigqueryDestination"]["outputUri"].removeprefix("bq://")
    assert runner.get(f"/scores/{score_id}").json()["state"] == "SUCCEEDED"
    expires = cloud.cloud.bigquery.expires[output] / 1000
    assert abs(expires - (time.time() + OUTPUT_TABLE_DAYS * 86400)) < 600
    assert destination not in cloud.cloud.bigquery.expires  # the scores stay


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
