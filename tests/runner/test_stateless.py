"""The runner as Cloud Run runs it: several instances, retries, nothing kept in the container.

Each "instance" is a runner app of its own, as ``fullcycle serve-runner --backend
vertex`` builds it, with its own home; they share only the fake Vertex AI and
GCS behind the real Google clients. The run is the PipelineJob.
"""

import json
import threading
import time

import google.auth
import httpx
import pytest
import requests
from fastapi.testclient import TestClient
from google.auth.credentials import AnonymousCredentials

from pipelines.runner.runs import STATES
from tests.support.google_fakes import FakeGoogleCloud
from tests.support.google_http import intercepted, json_response

MODEL = "basic_template"
BUCKET = "fullcycle-dev-fc-basic-template"
TICK = {"X-CloudScheduler-ScheduleTime": "2026-11-29T03:00:00Z"}


@pytest.fixture
def cloud(monkeypatch):
    """Fake Vertex AI and GCS; the runner's Application Default Credentials are anonymous."""
    monkeypatch.setattr(google.auth, "default",
                        lambda *a, **kw: (AnonymousCredentials(), "fullcycle-dev"))
    with intercepted(monkeypatch, FakeGoogleCloud({BUCKET})) as fake:
        yield fake


def json_lines(text: str) -> list[dict]:
    """The structured log lines among what was written to stdout."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return [e for e in lines if isinstance(e, dict) and "severity" in e]


def test_one_scheduled_tick_on_two_instances_is_one_run_read_by_a_third(cloud, instance):
    first = instance().post("/runs", json={"model": MODEL}, headers=TICK)
    again = instance().post("/runs", json={"model": MODEL}, headers=TICK)  # a retry elsewhere
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    run_id = first.json()["run_id"]
    assert again.json()["run_id"] == run_id
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert list(cloud.registry.pipeline_jobs) == [run_id]  # one PipelineJob, named by the run
    assert first.json()["state"] == "QUEUED" and first.json()["trigger"] == "scheduler"

    fresh = instance()  # scaled to zero and back: nothing of the run is in this instance
    assert fresh.get(f"/runs/{run_id}").json()["state"] == "QUEUED"
    cloud.registry.move_pipeline_job(run_id, "PIPELINE_STATE_RUNNING")
    running = fresh.get(f"/runs/{run_id}").json()
    assert running["state"] == "RUNNING" and running["started"] and running["finished"] is None
    cloud.registry.move_pipeline_job(run_id, "PIPELINE_STATE_SUCCEEDED",
                                     pushed_version="1796100000",
                                     note="canary at 10 %; the controller takes it from here")
    done = instance().get(f"/runs/{run_id}").json()
    assert done["state"] == "SUCCEEDED" and done["finished"] >= done["started"]
    assert done["pushed_version"] == "1796100000" and done["model"] == MODEL
    assert done["deployment"].startswith("canary at 10 %")
    assert done["link"].endswith(f"/pipelines/runs/{run_id}?project=fullcycle-dev")
    listed = instance().get("/runs", params={"model": MODEL}).json()["runs"]
    assert [r["run_id"] for r in listed] == [run_id] and listed[0]["state"] == "SUCCEEDED"
    assert instance().get("/runs/fullcycle-basic-template-snope").status_code == 404


def test_a_failed_run_and_one_not_deployed_during_a_rollout(cloud, instance):
    runner = instance()
    failed = runner.post("/runs", json={"model": MODEL}, headers={"Idempotency-Key": "a"}).json()
    waited = runner.post("/runs", json={"model": MODEL}, headers={"Idempotency-Key": "b"}).json()
    assert failed["run_id"] != waited["run_id"] and failed["trigger"] == "api"
    cloud.registry.move_pipeline_job(failed["run_id"], "PIPELINE_STATE_FAILED",
                                     error="The DAG failed because some tasks failed.")
    cloud.registry.move_pipeline_job(waited["run_id"], "PIPELINE_STATE_SUCCEEDED",
                                     note="not deployed: rollout in progress")
    fresh = instance()
    answer = fresh.get(f"/runs/{failed['run_id']}").json()
    assert answer["state"] == "FAILED" and "some tasks failed" in answer["error"]
    answer = fresh.get(f"/runs/{waited['run_id']}").json()
    assert answer["state"] == "SUCCEEDED" and answer["pushed_version"] is None
    assert answer["deployment"] == "not deployed: rollout in progress"
    assert {r["state"] for r in fresh.get("/runs").json()["runs"]} <= set(STATES)


def test_instances_that_both_checked_before_either_created_start_one_run(cloud, instance,
                                                                         monkeypatch):
    """The second instance's check ran just before the first create: it compiles and
    creates too, and Vertex AI's ALREADY_EXISTS answers it the first run."""
    first = instance().post("/runs", json={"model": MODEL}, headers=TICK)
    send, checks = cloud.send, []

    def check_before_the_create(request):
        if request.method == "GET" and "/pipelineJobs/" in request.url and not checks:
            checks.append(request.url)  # what Vertex AI answered a moment earlier
            return json_response(request, 404, {"error": {
                "code": 404, "status": "NOT_FOUND", "message": "PipelineJob does not exist"}})
        return send(request)

    monkeypatch.setattr(cloud, "send", check_before_the_create)
    again = instance().post("/runs", json={"model": MODEL}, headers=TICK)
    assert again.status_code == 202, again.text
    assert again.json()["run_id"] == first.json()["run_id"] and again.json()["duplicate"]
    creates = [p for m, p, _ in cloud.registry.calls if m == "POST" and p == "pipelineJobs"]
    assert len(creates) == 2 and len(cloud.registry.pipeline_jobs) == 1


def test_a_create_that_timed_out_but_was_accepted_then_retried_is_one_run(
        cloud, instance, monkeypatch, capsys):
    send, lost = cloud.send, []

    def lose_the_first_create_response(request):
        response = send(request)
        if request.method == "POST" and "/pipelineJobs?" in request.url and not lost:
            lost.append(response.status_code)  # Vertex AI created the job; the answer is lost
            raise requests.exceptions.ReadTimeout("read timed out")
        return response

    monkeypatch.setattr(cloud, "send", lose_the_first_create_response)
    capsys.readouterr()
    failed = instance().post("/runs", json={"model": MODEL}, headers=TICK)
    assert lost == [200] and failed.status_code == 503
    assert "could not start a run of 'basic_template'" in failed.json()["error"]
    assert "ReadTimeout" in failed.json()["error"]  # the cause, named
    (error,) = [e for e in json_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert error["model"] == MODEL and "read timed out" in error["message"]
    assert error["run_id"] == failed.json()["run_id"]
    retried = instance().post("/runs", json={"model": MODEL}, headers=TICK)  # Scheduler retries
    assert retried.status_code == 202 and retried.json()["duplicate"] is True
    assert retried.json()["run_id"] == failed.json()["run_id"]
    assert list(cloud.registry.pipeline_jobs) == [failed.json()["run_id"]]


def test_a_refused_submit_is_a_5xx_and_one_error_log_line(cloud, instance, monkeypatch,
                                                          capsys):
    def refuse(request):
        if request.method == "POST" and "/pipelineJobs?" in request.url:
            return json_response(request, 403, {"error": {
                "code": 403, "status": "PERMISSION_DENIED",
                "message": "Permission 'aiplatform.pipelineJobs.create' denied"}})
        return send(request)

    send = cloud.send
    monkeypatch.setattr(cloud, "send", refuse)
    capsys.readouterr()
    answer = instance().post("/runs", json={"model": MODEL})
    assert answer.status_code == 503 and "aiplatform.pipelineJobs.create" in \
        answer.json()["error"]
    errors = [e for e in json_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["model"] == MODEL
    assert "403" in errors[0]["message"] and "pipelineJobs.create" in errors[0]["message"]
    assert cloud.registry.pipeline_jobs == {}


@pytest.mark.parametrize("headers, message", [
    ({"Idempotency-Key": ""}, "header Idempotency-Key '' must be 1-255 printable ASCII"),
    ({"Idempotency-Key": "x" * 256}, "must be 1-255 printable ASCII characters"),
    ({"X-CloudScheduler-ScheduleTime": "yesterday"}, "is not an RFC 3339 time"),
])
def test_bad_run_headers_start_nothing(cloud, instance, headers, message):
    answer = instance().post("/runs", json={"model": MODEL}, headers=headers)
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert cloud.registry.pipeline_jobs == {}


@pytest.mark.parametrize("fraction", [".5", ".123456789", ".000000001"])
def test_a_schedule_time_with_any_fraction_of_a_second_starts_its_run(cloud, instance,
                                                                      fraction):
    """RFC 3339 allows any number of fractional digits (Python 3.10's fromisoformat takes 3
    or 6): a scheduled tick is never refused for its schedule time's precision."""
    header = {"X-CloudScheduler-ScheduleTime": f"2026-11-29T03:00:00{fraction}Z"}
    first = instance().post("/runs", json={"model": MODEL}, headers=header)
    assert first.status_code == 202, first.text
    again = instance().post("/runs", json={"model": MODEL}, headers=header)
    assert again.json()["run_id"] == first.json()["run_id"] and again.json()["duplicate"]
    assert len(cloud.registry.pipeline_jobs) == 1


class SlowBackend:
    """A backend whose submit takes as long as the test says (a compile, ~7 s warm)."""

    name = "slow"

    def __init__(self):
        self.release, self.entered = threading.Event(), threading.Event()

    def submit(self, model, run_id, trigger):
        from pipelines.runner.runs import RunView

        self.entered.set()
        assert self.release.wait(30)
        return RunView(run_id, model, "QUEUED", trigger, time.time()), True


def test_a_submit_in_progress_does_not_hold_up_other_requests():
    from pipelines.runner.app import create_app
    from tests.support.servers import serve

    backend = SlowBackend()
    url, server = serve(create_app(backend))
    try:
        posting = threading.Thread(target=httpx.post, args=(f"{url}/runs",),
                                   kwargs={"json": {"model": MODEL}, "timeout": 60})
        posting.start()
        assert backend.entered.wait(30)
        started = time.monotonic()
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
        backend.release.set()
        posting.join(30)
    finally:
        backend.release.set()
        server.should_exit = True


def test_the_local_backend_honours_idempotency_keys_and_reports_the_same_states(tmp_path):
    from pipelines.runner.app import create_app
    from pipelines.runner.backends import LocalBackend
    from pipelines.runner.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite")
    backend = LocalBackend(store, env={"FULLCYCLE_HOME": str(tmp_path / "home"),
                                       "FULLCYCLE_WAREHOUSE": str(tmp_path / "absent.duckdb")})
    client = TestClient(create_app(backend))
    try:
        key = {"Idempotency-Key": "airflow:train_basic:2026-11-29T03:00:00+00:00"}
        first = client.post("/runs", json={"model": MODEL}, headers=key).json()
        again = client.post("/runs", json={"model": MODEL}, headers=key).json()
        other = client.post("/runs", json={"model": MODEL},
                            headers={"Idempotency-Key": "another"}).json()
        assert first["run_id"] == again["run_id"] != other["run_id"]
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        assert first["trigger"] == "api" and first["state"] in ("QUEUED", "RUNNING")
        deadline = time.monotonic() + 300
        while (run := client.get(f"/runs/{first['run_id']}").json())["state"] in (
                "QUEUED", "RUNNING") and time.monotonic() < deadline:
            time.sleep(1)
        assert run["state"] == "FAILED" and "absent.duckdb" in run["error"], run
        assert set(run) >= {"run_id", "model", "state", "trigger", "created", "started",
                            "finished", "link", "pushed_version", "deployment", "error"}
    finally:
        backend.close()


def test_an_unexpected_failure_is_a_500_and_one_error_log_line(capsys):
    from pipelines.runner.app import create_app

    class Broken(SlowBackend):
        def get(self, run_id):
            raise KeyError(run_id)

    client = TestClient(create_app(Broken()), raise_server_exceptions=False)
    capsys.readouterr()
    answer = client.get("/runs/fullcycle-basic-template-s1")
    assert answer.status_code == 500 and "KeyError" in answer.json()["error"]
    (error,) = [e for e in json_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert error["path"] == "/runs/fullcycle-basic-template-s1" and "KeyError" in error["message"]
    assert "Traceback" in error["stack_trace"]


def test_a_tuning_retried_on_another_instance_is_one_pipeline_job_apart_from_runs(cloud,
                                                                                  instance):
    key = {"Idempotency-Key": "tune-basic-2026-12-06"}
    first = instance().post("/tunings", json={"model": MODEL}, headers=key)
    again = instance().post("/tunings", json={"model": MODEL}, headers=key)
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    tuning_id = first.json()["run_id"]
    assert again.json()["run_id"] == tuning_id and again.json()["duplicate"]
    assert list(cloud.registry.pipeline_jobs) == [tuning_id]
    assert cloud.registry.pipeline_jobs[tuning_id]["displayName"] == \
        "fullcycle-basic-template-tune"
    run = instance().post("/runs", json={"model": MODEL}, headers=key).json()
    assert run["run_id"] != tuning_id  # the same key names a run and a tuning apart

    fresh = instance()
    cloud.registry.move_pipeline_job(tuning_id, "PIPELINE_STATE_SUCCEEDED")
    assert fresh.get(f"/tunings/{tuning_id}").json()["state"] == "SUCCEEDED"
    assert fresh.get(f"/tunings/{run['run_id']}").status_code == 404  # a run is no tuning


def test_a_tuning_without_a_search_space_or_with_a_bad_key_is_refused(cloud, instance):
    response = instance().post("/tunings", json={"model": "taxi_tips"})
    assert response.status_code == 422 and "has no tuning" in response.json()["error"]
    bad_key = instance().post("/tunings", json={"model": MODEL},
                              headers={"Idempotency-Key": "k" * 256})
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json()["error"]
    assert cloud.registry.pipeline_jobs == {}


def test_the_local_backend_runs_a_tuning_as_it_runs_a_run(tmp_path):
    from pipelines.runner.app import create_app
    from pipelines.runner.backends import LocalBackend
    from pipelines.runner.runs import tuning_id_for
    from pipelines.runner.store import RunStore

    backend = LocalBackend(RunStore(tmp_path / "runs.sqlite"),
                           env={"FULLCYCLE_HOME": str(tmp_path / "home"),
                                "FULLCYCLE_WAREHOUSE": str(tmp_path / "absent.duckdb")})
    client = TestClient(create_app(backend))
    try:
        key = {"Idempotency-Key": "tune-1"}
        first = client.post("/tunings", json={"model": MODEL}, headers=key).json()
        again = client.post("/tunings", json={"model": MODEL}, headers=key).json()
        assert first["run_id"] == again["run_id"] and again["duplicate"]
        # the tune workflow, not a run's, is what ran in the process: past the route's check,
        # only it refuses a model without a search space
        unchecked, _ = backend.submit("taxi_tips", *tuning_id_for("taxi_tips"), tuning=True)
        for started in (first, unchecked.as_dict()):
            deadline = time.monotonic() + 300
            while (tuning := client.get(f"/tunings/{started['run_id']}").json())["state"] in (
                    "QUEUED", "RUNNING") and time.monotonic() < deadline:
                time.sleep(1)
            assert tuning["state"] == "FAILED", tuning
        assert "absent.duckdb" in client.get(f"/tunings/{first['run_id']}").json()["error"]
        assert "has no tuning" in tuning["error"], tuning
    finally:
        backend.close()
