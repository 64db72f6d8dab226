"""The real local runner for the real-DAG test: ``fullcycle serve-runner`` of the main
project's venv, on a seeded warehouse in a temporary FULLCYCLE_HOME."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def fullcycle_command() -> Path:
    """The main project's CLI (``FULLCYCLE_BIN``, else ``<repo>/.venv/bin/fullcycle``)."""
    command = Path(os.environ.get("FULLCYCLE_BIN") or REPO / ".venv" / "bin" / "fullcycle")
    if not command.exists():
        raise FileNotFoundError(f"the real-DAG test needs the fullcycle CLI at {command}: run "
                                "`make venv` in the repository (or set FULLCYCLE_BIN)")
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RealRunner:
    """Seeds a warehouse in ``root`` and serves the local runner on a free port."""

    def __init__(self, root: Path, train_steps: int = 50):
        command = fullcycle_command()
        self.env = {**os.environ, "FULLCYCLE_HOME": str(root / "home"),
                    "FULLCYCLE_WAREHOUSE": str(root / "warehouse.duckdb"),
                    "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run([command, "data", "seed"], cwd=REPO, env=self.env, check=True,
                       capture_output=True, timeout=300)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = root / "runner.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [command, "serve-runner", "--port", str(port), "--train-steps", str(train_steps)],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_healthy()

    def _wait_healthy(self, seconds: float = 120) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fullcycle serve-runner exited {self.process.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.close()
        raise RuntimeError(f"fullcycle serve-runner not healthy after {seconds} s")

    def runs(self, model: str) -> list[dict]:
        return httpx.get(f"{self.url}/runs", params={"model": model}, timeout=30).json()["runs"]

    def close(self) -> None:
        """Stops the runner and the run processes it started (its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
