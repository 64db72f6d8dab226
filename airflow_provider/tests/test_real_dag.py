"""A real DAG: ``dag.test()`` after ``airflow db migrate`` runs basic_template through the
real local runner to SUCCEEDED, once waiting in the worker and once deferred; a misspelled
model fails the DAG run (the runner answers 404).

``dag.test()`` returns normally even when the DAG run failed, so the DAG run's and the
task's states are asserted, and the runner is asked what it ran. Both tests share one
process and one runner (Airflow 3's first ``dag.test()`` costs 13-18 s; a run's second
pass is a TFX cache hit).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import set_connection
from dags.fullcycle_basic_template import DAGS, MISSPELLED, MODEL
from real_runner import RealRunner

from fullcycle_provider.triggers.runner import FullcycleRunTrigger


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    migrated = subprocess.run([Path(sys.executable).with_name("airflow"), "db", "migrate"],
                              env=os.environ, capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    real = RealRunner(tmp_path_factory.mktemp("fullcycle"))
    yield real
    real.close()


@pytest.fixture
def trigger_polls(monkeypatch):
    """Records each run id the trigger polls (the deferred path really went through it)."""
    polled: list[str] = []
    original = FullcycleRunTrigger.run

    async def run(self):
        polled.append(self.run_id)
        async for event in original(self):
            yield event

    monkeypatch.setattr(FullcycleRunTrigger, "run", run)
    return polled


def run_dag(runner: RealRunner, monkeypatch, dag):
    set_connection(monkeypatch, runner.url)
    before = {r["run_id"] for r in runner.runs(MODEL)}
    dag_run = dag.test()
    [task] = [ti for ti in dag_run.get_task_instances() if ti.task_id == "pipeline_run"]
    new = [r for r in runner.runs(MODEL) if r["run_id"] not in before]
    return dag_run, task, new


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_basic_template_succeeds_through_the_local_runner(runner, monkeypatch, trigger_polls,
                                                          deferrable):
    dag_run, task, new = run_dag(runner, monkeypatch, DAGS[deferrable])
    log = runner.log.read_text()[-2000:]
    assert [r["state"] for r in new] == ["SUCCEEDED"], (new, log)
    assert str(task.state) in ("success", "TaskInstanceState.SUCCESS"), (task.state, new)
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), dag_run.state
    assert trigger_polls == ([new[0]["run_id"]] if deferrable else [])


def test_a_model_the_runner_does_not_know_fails_the_dag_run(runner, monkeypatch):
    dag_run, task, new = run_dag(runner, monkeypatch, MISSPELLED)
    assert new == []
    assert str(task.state) in ("failed", "TaskInstanceState.FAILED"), task.state
    assert str(dag_run.state) in ("failed", "DagRunState.FAILED"), dag_run.state
