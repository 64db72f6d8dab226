"""FullcycleRunSensor against the fake runner: poking, failing, deferring."""

from __future__ import annotations

import pytest
from conftest import set_connection
from fake_runner import FakeRunner

from fullcycle_provider.compat import AirflowFailException, TaskDeferred
from fullcycle_provider.hooks.runner import FullcycleRunnerHook
from fullcycle_provider.sensors.runner import FullcycleRunSensor
from fullcycle_provider.triggers.runner import FullcycleRunTrigger


def sensor(run_id: str, **kwargs) -> FullcycleRunSensor:
    return FullcycleRunSensor(task_id="wait", run_id=run_id, poke_interval=5, **kwargs)


def test_pokes_until_the_run_succeeded(fake_runner):
    run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
    assert sensor(run_id).poke({}) is False  # RUNNING
    assert sensor(run_id).poke({}) is True  # SUCCEEDED


def test_a_failed_run_fails_the_sensor_for_good(monkeypatch):
    runner = FakeRunner(states=("QUEUED", "FAILED"), error="Evaluator: not blessed")
    set_connection(monkeypatch, runner.url)
    try:
        run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
        with pytest.raises(AirflowFailException, match="ended FAILED: Evaluator: not blessed"):
            sensor(run_id).poke({})
    finally:
        runner.close()


def test_deferrable_hands_the_wait_to_the_trigger(fake_runner):
    with pytest.raises(TaskDeferred) as deferred:
        sensor("r1", deferrable=True, timeout=600).execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, FullcycleRunTrigger)
    assert trigger.run_id == "r1" and trigger.poll_interval == 5 and trigger.timeout == 600


def test_execute_complete_fails_for_good_on_a_failed_run():
    run = {"run_id": "r1", "model": "m", "state": "SUCCEEDED"}
    assert sensor("r1").execute_complete({}, {"status": "finished", "run": run}) == "r1"
    with pytest.raises(AirflowFailException, match="ended CANCELLED"):
        sensor("r1").execute_complete({}, {"status": "finished",
                                           "run": {**run, "state": "CANCELLED"}})
