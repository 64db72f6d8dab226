"""A runner served by uvicorn on loopback, backed by the local twin: one per test."""

import shutil

import pytest


@pytest.fixture
def runner(tmp_path, seeded_warehouse):
    """(url, store, root) of a fresh runner; its runs in progress are stopped afterwards."""
    from pipelines.runner.app import create_app
    from pipelines.runner.backends import LocalBackend
    from pipelines.runner.store import RunStore
    from tests.support.servers import serve

    root = tmp_path / "runner"
    root.mkdir()
    shutil.copy(seeded_warehouse, root / "warehouse.duckdb")
    env = {"FULLCYCLE_HOME": str(root / ".fullcycle"),
           "FULLCYCLE_WAREHOUSE": str(root / "warehouse.duckdb")}
    store = RunStore(root / "runs.sqlite")
    backend = LocalBackend(store, {"train_steps": 200, "eval_steps": 20}, env)
    url, server = serve(create_app(backend))
    yield url, store, root
    server.should_exit = True
    backend.close()


# -- the cloud runner's scores (tests/runner/test_vertex_scores*.py): fakes behind the clients.

@pytest.fixture
def cloud(monkeypatch):
    """Vertex AI (registry, endpoint, batch prediction jobs), BigQuery and GCS, faked."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    from tests.support.google_fakes import PROJECT, REGION, FakeGoogleCloud
    from tests.support.google_http import intercepted
    from tests.support.score_bigquery import FakeScoreBigQuery
    from tests.support.score_runner import BUCKET
    from tests.support.vertex_batch import FakeBatchPrediction, FakeScoringCloud

    monkeypatch.setattr(google.auth, "default",
                        lambda *a, **kw: (AnonymousCredentials(), PROJECT))
    services = FakeGoogleCloud({BUCKET})
    services.bigquery = FakeScoreBigQuery()
    fake = FakeScoringCloud(services, FakeBatchPrediction(PROJECT, REGION))
    with intercepted(monkeypatch, fake):
        yield fake


@pytest.fixture
def instance(tmp_path):
    """A new Vertex-backed runner instance (its own home) each call, as Cloud Run starts one."""
    from fastapi.testclient import TestClient

    from pipelines.runner.app import runner_app
    from pipelines.settings import Workspace

    count = iter(range(100))

    def start() -> TestClient:
        home = tmp_path / f"instance-{next(count)}"
        return TestClient(runner_app("vertex", "dev", Workspace(home, home / "warehouse")))

    return start
