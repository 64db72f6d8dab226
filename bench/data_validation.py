"""What data validation adds to a cold run of ``fullcycle run taxi_tips``.

In one run, in fresh processes on the seeded 15k-row taxi data:

  bless   a first run: no baseline yet; blessed, its data becomes the baseline
  cold    a cold run (empty pipeline root and metadata) that has the baseline,
          so every check runs against it: the baseline Importers, DataValidator,
          DataGate and BaselineRecorder

The share is the seconds of those components (timed per component in the same
run) over the whole cold run. Target: under 5 %.
Usage: python bench/data_validation.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
VALIDATION = ("baseline_statistics", "baseline_schema", "DataValidator", "DataGate",
              "BaselineRecorder")
TARGET = 0.05


def run(work: Path, home: Path, name: str) -> tuple[float, dict]:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "FULLCYCLE_HOME": str(home), "FULLCYCLE_WAREHOUSE": str(work / "warehouse.duckdb")}
    summary = work / f"{name}.json"
    started = time.monotonic()
    with (work / f"{name}.log").open("w") as log:
        subprocess.run([PYTHON, "-m", "pipelines.cli.main", "run", "taxi_tips", "--force",
                        "--json", str(summary)], env=env, stdout=log, stderr=subprocess.STDOUT,
                       check=True, cwd=ROOT)
    return time.monotonic() - started, json.loads(summary.read_text())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="fullcycle-bench-validation-"))
    subprocess.run([PYTHON, "-m", "pipelines.cli.main", "data", "seed"], check=True, cwd=ROOT,
                   env={**os.environ, "FULLCYCLE_WAREHOUSE": str(work / "warehouse.duckdb")},
                   stdout=subprocess.DEVNULL)
    first = work / "first"
    seconds, summary = run(work, first, "bless")
    assert summary["blessed"], summary.get("error")
    print(f"first run (records the baseline)  {seconds:6.1f} s", flush=True)
    cold = work / "cold"  # a fresh workspace holding only the baseline
    shutil.copytree(first / "baselines", cold / "baselines")
    seconds, summary = run(work, cold, "cold")
    assert summary["validation"]["baseline"] is not None, "the cold run had no baseline"
    parts = {c["node_id"]: c["seconds"] or 0.0 for c in summary["components"]}
    spent = sum(parts.get(name, 0.0) for name in VALIDATION)
    print(f"cold run with a baseline          {seconds:6.1f} s", flush=True)
    for name in VALIDATION:
        print(f"  {name:<30} {parts.get(name, 0.0):6.2f} s")
    print(f"  findings: {len(summary['validation']['findings'])}")
    print(f"logs in {work}")
    print(f"data validation share of a cold run: {spent / seconds:.3f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
