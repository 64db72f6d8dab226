"""FullcyclePipelineOperator against the fake runner: waiting in the worker, deferring,
failures, the timeout and the idempotency key across Airflow tries."""

from __future__ import annotations

import pytest
from conftest import FakeTaskInstance, set_connection
from fake_runner import FakeRunner

from fullcycle_provider.compat import AirflowException, TaskDeferred
from fullcycle_provider.operators.runner import FullcyclePipelineOperator
from fullcycle_provider.runs import idempotency_key
from fullcycle_provider.triggers.runner import FullcycleRunTrigger


def operator(**kwargs) -> FullcyclePipelineOperator:
    return FullcyclePipelineOperator(task_id="train", model="basic_template",
                                     poll_interval=0.01, **kwargs)


@pytest.fixture
def runner(monkeypatch):
    """Builds a fake runner with the given settings; the default connection points at it."""
    made = []

    def make(**kwargs) -> FakeRunner:
        made.append(FakeRunner(**kwargs))
        set_connection(monkeypatch, made[-1].url)
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_waits_in_the_worker_until_succeeded(fake_runner, ti):
    run_id = operator().execute({"ti": ti})
    assert fake_runner.runs[run_id]["state"] == "SUCCEEDED"
    assert ti.xcom["run_id"] == run_id
    assert ti.xcom["report_url"] == f"{fake_runner.url}/runs/{run_id}/report"
    assert ti.xcom["link"] == "file:///serving/basic_template/1"
    assert fake_runner.posts()[0]["headers"]["Idempotency-Key"] == idempotency_key(ti, 0)


def test_a_failed_run_fails_the_task_with_its_state_and_error(runner, ti):
    runner(states=("QUEUED", "RUNNING", "FAILED"), error="ValueError: no rows")
    with pytest.raises(AirflowException, match=r"ended FAILED: ValueError: no rows; see file://"):
        operator().execute({"ti": ti})


def test_a_cancelled_run_fails_the_task(runner, ti):
    runner(states=("QUEUED", "CANCELLED"))
    with pytest.raises(AirflowException, match="ended CANCELLED"):
        operator().execute({"ti": ti})


def test_an_unknown_state_fails_clearly_instead_of_waiting(runner, ti):
    runner(states=("QUEUED", "PAUSED"))
    with pytest.raises(AirflowException, match=r"state 'PAUSED', which this provider does not "
                                               r"know; known states: CANCELLED, CANCELLING"):
        operator(timeout=60).execute({"ti": ti})


def test_the_timeout_fails_the_task(runner, ti):
    runner(states=("QUEUED",) + ("RUNNING",) * 1000)
    with pytest.raises(AirflowException, match=r"still RUNNING after 0.2 s"):
        operator(timeout=0.2).execute({"ti": ti})


def test_no_wait_returns_once_the_run_is_accepted(fake_runner, ti):
    run_id = operator(wait_for_completion=False).execute({"ti": ti})
    assert fake_runner.runs[run_id]["state"] == "QUEUED"
    assert [r["method"] for r in fake_runner.requests] == ["POST"]


def test_deferrable_defers_to_the_trigger_with_no_token(monkeypatch, fake_runner, ti):
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token")
    from google.oauth2 import id_token

    monkeypatch.setattr(id_token, "fetch_id_token", lambda request, audience: "tok")
    with pytest.raises(TaskDeferred) as deferred:
        operator(deferrable=True, timeout=600).execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, FullcycleRunTrigger)
    assert deferred.value.method_name == "execute_complete"
    kwargs = trigger.serialize()[1]
    assert kwargs["run_id"] == ti.xcom["run_id"] and kwargs["poll_interval"] == 0.01
    assert "tok" not in repr(kwargs)


def test_execute_complete_judges_the_triggers_event(ti):
    run = {"run_id": "r1", "model": "basic_template", "state": "SUCCEEDED", "link": "gs://x"}
    assert operator().execute_complete({"ti": ti}, {"status": "finished", "run": run}) == "r1"
    assert ti.xcom["link"] == "gs://x"
    with pytest.raises(AirflowException, match="ended FAILED: boom"):
        operator().execute_complete({"ti": ti}, {"status": "finished", "run": {
            **run, "state": "FAILED", "detail": {"error": "boom"}}})
    with pytest.raises(AirflowException, match="still RUNNING after 30 s"):
        operator().execute_complete({"ti": ti}, {"status": "timeout", "timeout": 30,
                                                 "run": {**run, "state": "RUNNING"}})
    with pytest.raises(AirflowException, match="cannot be reached"):
        operator().execute_complete({"ti": ti}, {"status": "error", "run_id": "r1",
                                                 "message": "the runner cannot be reached"})


def test_a_retry_reattaches_to_the_run_still_going(runner):
    fake = runner(honour_keys=True, states=("QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"))
    first = operator(wait_for_completion=False).execute({"ti": FakeTaskInstance(1)})
    second = operator().execute({"ti": FakeTaskInstance(2)})  # the worker of try 1 died
    assert second == first and len(fake.runs) == 1


def test_a_retry_after_a_failed_run_starts_one_new_run(runner):
    fake = runner(honour_keys=True, states=("QUEUED", "RUNNING", "SUCCEEDED"))
    first = operator(wait_for_completion=False).execute({"ti": FakeTaskInstance(1)})
    fake.set_state(first, "FAILED")
    second = operator().execute({"ti": FakeTaskInstance(2)})
    assert second != first and len(fake.runs) == 2
    third_try = FakeTaskInstance(3)  # try 2's worker died after its run succeeded
    assert operator().execute({"ti": third_try}) not in (first, second)
    assert len(fake.runs) == 3  # a finished run is never re-used: try 3 trains anew
    assert len(fake.posts()) == 1 + 2 + 3  # try n offers generations 0 .. n-1


def test_keys_differ_per_dag_run_and_generation(ti):
    other_run = FakeTaskInstance(run_id="scheduled__2026-12-07")
    keys = {idempotency_key(ti, 0), idempotency_key(ti, 1), idempotency_key(other_run, 0)}
    assert len(keys) == 3 and idempotency_key(ti, 0) == idempotency_key(FakeTaskInstance(), 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"model": ""}, "model must be a model's name"),
    ({"model": "m", "overrides": [1]}, "overrides must be a dict"),
    ({"model": "m", "timeout": 0}, "timeout must be a positive number"),
    ({"model": "m", "poll_interval": "5"}, "poll_interval must be a positive number"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FullcyclePipelineOperator(task_id="t", **kwargs)


def test_model_and_overrides_are_templated():
    assert set(FullcyclePipelineOperator.template_fields) == {"model", "overrides"}
