"""What the benchmarks share: a fresh workspace with the seeded warehouse, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def fresh_workspace(prefix: str) -> tuple[Path, dict[str, str]]:
    """A new folder with its own workspace and seeded warehouse; (folder, its env)."""
    work = Path(tempfile.mkdtemp(prefix=f"fullcycle-bench-{prefix}-"))
    env = {**os.environ, "FULLCYCLE_HOME": str(work / "home"),
           "FULLCYCLE_WAREHOUSE": str(work / "warehouse.duckdb")}
    fullcycle(env, "data", "seed")
    return work, env


def fullcycle(env: dict[str, str], *args: str, log: Path | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    """``fullcycle ARGS`` in a new process (output to ``log``, else discarded)."""
    with (log.open("a") if log else open(os.devnull, "w")) as out:
        return subprocess.run([PYTHON, "-m", "pipelines.cli.main", *args], env=env, cwd=ROOT,
                              stdout=out, stderr=subprocess.STDOUT, check=check)
