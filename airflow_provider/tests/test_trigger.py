"""FullcycleRunTrigger: its serialized form, and polling the fake runner asynchronously."""

from __future__ import annotations

import asyncio
import importlib
import time

from conftest import set_connection
from fake_runner import FakeRunner

from fullcycle_provider.hooks.runner import FullcycleRunnerHook
from fullcycle_provider.triggers.runner import FullcycleRunTrigger


def events(trigger: FullcycleRunTrigger) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_serialize_round_trip():
    trigger = FullcycleRunTrigger("r1", "my_conn", poll_interval=5, end_time=123.0, timeout=60)
    path, kwargs = trigger.serialize()
    module, name = path.rsplit(".", 1)
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (path, kwargs)
    assert kwargs == {"run_id": "r1", "fullcycle_conn_id": "my_conn", "poll_interval": 5,
                      "end_time": 123.0, "timeout": 60}


def test_polls_until_the_run_succeeded(fake_runner):
    run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
    [event] = events(FullcycleRunTrigger(run_id, poll_interval=0.01))
    assert event["status"] == "finished" and event["run"]["state"] == "SUCCEEDED"
    assert [r["path"] for r in fake_runner.requests[1:]] == [f"/runs/{run_id}"] * 2


def test_a_failed_run_ends_the_wait(monkeypatch):
    runner = FakeRunner(states=("QUEUED", "RUNNING", "FAILED"), error="boom")
    set_connection(monkeypatch, runner.url)
    try:
        run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
        [event] = events(FullcycleRunTrigger(run_id, poll_interval=0.01))
    finally:
        runner.close()
    assert event["run"]["state"] == "FAILED" and event["run"]["detail"] == {"error": "boom"}


def test_the_end_time_sends_a_timeout_event(monkeypatch):
    runner = FakeRunner(states=("QUEUED",) + ("RUNNING",) * 1000)
    set_connection(monkeypatch, runner.url)
    try:
        run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
        [event] = events(FullcycleRunTrigger(run_id, poll_interval=0.05,
                                             end_time=time.time() + 0.3, timeout=0.3))
    finally:
        runner.close()
    assert event["status"] == "timeout" and event["run"]["state"] == "RUNNING"


def test_an_unreachable_runner_sends_an_error_event(monkeypatch):
    set_connection(monkeypatch, "http://127.0.0.1:9")
    monkeypatch.setattr(FullcycleRunnerHook, "RETRY_DELAY", 0)
    [event] = events(FullcycleRunTrigger("r1", poll_interval=0.01))
    assert event["status"] == "error" and "cannot be reached" in event["message"]


def test_each_poll_fetches_a_fresh_token(monkeypatch, fake_runner):
    from google.oauth2 import id_token

    audiences = []
    monkeypatch.setattr(id_token, "fetch_id_token",
                        lambda request, audience: audiences.append(audience) or "tok")
    run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token")
    events(FullcycleRunTrigger(run_id, poll_interval=0.01))
    assert audiences == [fake_runner.url, fake_runner.url]


def test_a_bad_connection_sends_an_error_event(monkeypatch):
    set_connection(monkeypatch, "http://x", auth="oidc")
    [event] = events(FullcycleRunTrigger("r1", poll_interval=0.01))
    assert event["status"] == "error" and "extra 'auth' is 'oidc'" in event["message"]
