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


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    """Runs ``cmd``; (wall seconds, peak RSS in bytes of its whole process tree).

    The tree's resident memory is summed every 0.1 s (Beam workers, the serving
    process and the like count too).
    """
    import time

    import psutil

    started = time.monotonic()
    peak = 0
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            total = 0
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:  # ended between listing and reading
                    pass
            peak = max(peak, total)
            time.sleep(0.1)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[-3:])} failed (exit {proc.returncode}); log: {log}")
    return seconds, peak


def stock_taxi(work: Path, env: dict[str, str]) -> tuple[float, int]:
    """TFX's stock Chicago-taxi pipeline (the reference) in a fresh folder: (seconds, peak RSS)."""
    return run_measured([PYTHON, str(ROOT / "bench" / "_stock_taxi.py"), str(work / "stock")],
                        env, work / "stock.log")


def component_seconds(summary: Path) -> dict[str, float]:
    """Seconds per component of a ``fullcycle run --json`` summary (cached ones left out)."""
    import json

    return {c["node_id"]: c["seconds"] for c in json.loads(summary.read_text())["components"]
            if c["seconds"] is not None}
