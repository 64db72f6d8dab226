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
