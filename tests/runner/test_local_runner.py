"""The runner over HTTP with the local backend: the same request Cloud Scheduler sends."""

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pipelines.runner.runs import run_id_for
from pipelines.runner.scheduler import backoffs, scheduler_request, send
from pipelines.stack.config import RetrySettings

TICK = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.timezone.utc)


def post(url, body, **headers):
    return httpx.post(f"{url}/runs", content=body, headers=headers, timeout=60)


def wait_done(url, run_id, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}/runs/{run_id}").json()
        if run["state"] in ("SUCCEEDED", "FAILED"):
            return run
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def test_health(runner):
    url, _, _ = runner
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "backend": "local"}


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "request body is not valid JSON"),
    (b"{}", 400, "field 'model' is required"),
    (b'["basic_template"]', 400, "field 'model' is required"),
    (b'{"model": 3}', 400, "field 'model' must be a string, got int"),
    (b'{"model": "basic_templat"}', 404, "unknown model 'basic_templat' (did you mean "
                                         "\"basic_template\"?)"),
])
def test_bad_input_starts_nothing(runner, body, status, message):
    url, store, _ = runner
    before = len(store.list())
    response = post(url, body, **{"Content-Type": "application/json"})
    assert response.status_code == status and message in response.json()["error"]
    if status == 404:
        assert response.json()["known_models"] == ["basic_template", "taxi_tips"]
    assert len(store.list()) == before


def test_invalid_model_config_is_422(runner, models_package):
    url, store, _ = runner
    models_package("broken", "from pipelines.config import ModelConfig\n"
                             "CONFIG = ModelConfig(label_key='y', dense_float_features=['y'], "
                             "num_epochs=1, source={'table': 't', 'split_key': 'id'})\n")
    before = len(store.list())
    response = post(url, b'{"model": "broken"}')
    assert response.status_code == 422
    assert "label 'y' is also listed in dense_float_features" in response.json()["error"]
    assert len(store.list()) == before


def test_scheduler_retries_of_one_tick_start_one_run(runner):
    url, store, _ = runner
    request = scheduler_request("basic_template", TICK, "fc-basic-template-train")
    first = send(url, request, RetrySettings())
    again = send(url, request, RetrySettings())
    assert first.status_code == again.status_code == 202
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert first.json()["run_id"] == again.json()["run_id"]
    runs = [r for r in store.list("basic_template") if r.trigger == "scheduler"]
    assert len(runs) == 1 and runs[0].id == run_id_for("basic_template", "2026-11-29T03:00:00Z")[0]


def test_concurrent_triggers_of_two_models_complete(runner):
    url, store, _ = runner
    basic = send(url, scheduler_request("basic_template", TICK, "fc-basic-template-train"),
                 RetrySettings()).json()
    taxi = post(url, b'{"model": "taxi_tips"}').json()
    assert taxi["state"] in ("QUEUED", "RUNNING")
    listed = httpx.get(f"{url}/runs", params={"model": "taxi_tips"}).json()["runs"]
    assert [r["run_id"] for r in listed] == [taxi["run_id"]]
    done = {name: wait_done(url, run_id) for name, run_id in
            (("basic_template", basic["run_id"]), ("taxi_tips", taxi["run_id"]))}
    for name, run in done.items():
        assert run["state"] == "SUCCEEDED", (name, run["detail"])
        assert run["started"] >= run["created"] and run["finished"] > run["started"]
    basic_detail = done["basic_template"]["detail"]
    assert basic_detail["blessed"] is True
    assert Path(basic_detail["pushed_path"]).is_dir()
    # the library deployed what the run pushed, as `fullcycle run` does
    assert basic_detail["deployment"].startswith("deployed as ")
    # the two models ran at the same time, not one after the other
    assert done["taxi_tips"]["started"] < done["basic_template"]["finished"]


def test_unknown_run_is_404(runner):
    url, _, _ = runner
    assert httpx.get(f"{url}/runs/nope").status_code == 404


def test_trigger_cli_reports_runner_errors(runner):
    from pipelines.cli.main import app

    url, _, _ = runner
    result = CliRunner().invoke(app, ["trigger", "taxi_tipz", "--runner-url", url])
    assert result.exit_code == 1 and "unknown model 'taxi_tipz'" in result.output
    down = CliRunner().invoke(app, ["trigger", "taxi_tips", "--runner-url",
                                    "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "is not reachable" in down.output


def test_scheduler_request_and_backoff_match_cloud_scheduler():
    request = scheduler_request("taxi_tips", dt.datetime(2026, 1, 5, 4, 30,
                                                         tzinfo=dt.timezone(dt.timedelta(hours=-6))),
                                "fc-taxi-tips-train")
    assert json.loads(request.body) == {"model": "taxi_tips"}
    assert request.headers["X-CloudScheduler-ScheduleTime"] == "2026-01-05T10:30:00Z"
    assert request.headers["Content-Type"] == "application/json"
    retry = RetrySettings(retry_count=5, min_backoff_seconds=10, max_backoff_seconds=60,
                          max_doublings=2)
    assert backoffs(retry) == [10, 20, 40, 40, 40]


def test_send_retries_server_errors_then_gives_up(monkeypatch):
    calls, waits = [], []

    def fake_post(url, **kwargs):
        calls.append(url)
        return httpx.Response(503 if len(calls) < 3 else 202, json={})

    monkeypatch.setattr(httpx, "post", fake_post)
    retry = RetrySettings(retry_count=3, min_backoff_seconds=1, max_backoff_seconds=4)
    response = send("http://x", scheduler_request("m", TICK, "j"), retry, sleep=waits.append)
    assert response.status_code == 202 and len(calls) == 3 and waits == [1, 2]


def test_schedule_loop_sends_each_tick_once(monkeypatch):
    import threading

    from pipelines.runner import scheduler
    from pipelines.stack.config import ModelEntry

    tick = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.timezone.utc)
    sent = []

    def fake_send(url, request, retry):
        sent.append((url, json.loads(request.body),
                     request.headers["X-CloudScheduler-ScheduleTime"]))
        return httpx.Response(202)

    monkeypatch.setattr(scheduler, "send", fake_send)
    stop = threading.Event()
    entry = ModelEntry(name="taxi_tips", schedule="0 * * * *", time_zone="Europe/Amsterdam")
    job = scheduler.Schedule("fc-taxi_tips", entry.name, "/runs", entry.schedule,
                             entry.time_zone, entry.retry)
    scheduler.run_schedule([job], "http://runner", stop,
                           on_sent=lambda j, t, code: stop.set(),
                           now=lambda: tick - dt.timedelta(seconds=0.05))
    assert sent == [("http://runner", {"model": "taxi_tips"}, "2026-11-29T10:00:00Z")]
    assert scheduler.next_tick(entry, tick).astimezone(dt.timezone.utc) == \
        tick + dt.timedelta(hours=1)
