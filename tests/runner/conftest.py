"""A runner served by uvicorn on loopback, backed by the local twin."""

import shutil
import socket
import threading
import time

import httpx
import pytest
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVED: list[tuple[uvicorn.Server, threading.Thread]] = []


def serve(app) -> tuple[str, uvicorn.Server]:
    """Serves ``app`` on a free loopback port; stop it with ``server.should_exit = True``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    SERVED.append((server, thread))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return url, server
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("runner did not start")


@pytest.fixture(scope="module")
def runner(tmp_path_factory, seeded_warehouse):
    from pipelines.runner.app import create_app
    from pipelines.runner.backends import LocalBackend
    from pipelines.runner.store import RunStore

    root = tmp_path_factory.mktemp("runner")
    shutil.copy(seeded_warehouse, root / "warehouse.duckdb")
    env = {"FULLCYCLE_HOME": str(root / ".fullcycle"),
           "FULLCYCLE_WAREHOUSE": str(root / "warehouse.duckdb")}
    store = RunStore(root / "runs.sqlite")
    backend = LocalBackend(store, ["--train-steps", "200", "--eval-steps", "20"], env)
    url, server = serve(create_app(store, backend))
    yield url, store, root
    server.should_exit = True
