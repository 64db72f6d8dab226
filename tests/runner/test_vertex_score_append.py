"""The post-step of a cloud score (``GET /scores/{id}``, the next ``POST /scores``): a
SUCCEEDED job's output appended to the destination once, whatever runs twice, dies or
outlives its lease, over the same fakes as tests/runner/test_vertex_scores.py."""

import json
from types import SimpleNamespace

import pytest
from google.auth.credentials import AnonymousCredentials

from tests.support.score_runner import BUCKET, MODEL, OUTPUT_ROWS, TICK, finished


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
    # the runner's clock only (the event loop and the post-step keep the real one)
    monkeypatch.setattr(vertex_scores, "time", SimpleNamespace(monotonic=lambda: clock[0]))
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
