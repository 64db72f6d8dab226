"""Shared fixtures: a private AIRFLOW_HOME (set before Airflow is imported), a fake runner
and the ``fullcycle_runner`` connection pointing at it."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

# Never the user's Airflow: a fresh home, SQLite database and the tests' own dags folder.
_HOME = tempfile.mkdtemp(prefix="fullcycle-airflow-")
os.environ.update({
    "AIRFLOW_HOME": _HOME,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(os.path.dirname(__file__), "dags"),
})
atexit.register(shutil.rmtree, _HOME, True)

import pytest  # noqa: E402
from fake_runner import FakeRunner  # noqa: E402


def set_connection(monkeypatch, url: str, conn_id: str = "fullcycle_default", **extra) -> None:
    """Defines connection ``conn_id`` through Airflow's environment-variable backend."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(
        {"conn_type": "fullcycle_runner", "host": url, "extra": {"auth": "none", **extra}}))


@pytest.fixture
def fake_runner(monkeypatch):
    """A fake runner whose runs go QUEUED → RUNNING → SUCCEEDED; the default connection
    points at it."""
    runner = FakeRunner()
    set_connection(monkeypatch, runner.url)
    yield runner
    runner.close()


class FakeTaskInstance:
    """What the operator reads from ``context["ti"]``, and the XComs it pushes."""

    def __init__(self, try_number: int = 1, run_id: str = "manual__2026-12-06"):
        self.dag_id, self.run_id, self.task_id, self.map_index = "dag", run_id, "train", -1
        self.try_number = try_number
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


@pytest.fixture
def ti():
    return FakeTaskInstance()
