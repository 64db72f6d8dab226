"""Local pipeline speed: TFX's stock taxi example vs ``fullcycle run taxi_tips``.

Both run in fresh processes (imports included) on the same 15k-row Chicago taxi
data, with the same components and 1000 train / 150 eval steps at batch 40:

  stock   tfx.examples.chicago_taxi_pipeline.taxi_pipeline_native_keras
  cold    fullcycle run taxi_tips, empty workspace (warehouse seeded beforehand)
  rerun   fullcycle run taxi_tips again, unchanged data and code

Targets: cold <= 0.6 x stock; rerun <= 0.1 x cold.
Usage: python bench/local_pipeline.py [--skip-stock]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True, cwd=ROOT)
    return time.monotonic() - started


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="fullcycle-bench-"))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "FULLCYCLE_HOME": str(work / ".fullcycle"),
           "FULLCYCLE_WAREHOUSE": str(work / "warehouse.duckdb")}
    fullcycle = [PYTHON, "-m", "pipelines.cli.main"]
    subprocess.run([*fullcycle, "data", "seed"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    results: dict[str, float] = {}
    if "--skip-stock" not in sys.argv:
        results["stock"] = timed([PYTHON, str(ROOT / "bench" / "_stock_taxi.py"),
                                  str(work / "stock")], env, work / "stock.log")
        print(f"stock TFX taxi pipeline      {results['stock']:7.1f} s", flush=True)
    summary = work / "cold.json"
    results["cold"] = timed([*fullcycle, "run", "taxi_tips", "--json", str(summary)], env,
                            work / "cold.log")
    print(f"fullcycle run taxi_tips cold {results['cold']:7.1f} s", flush=True)
    results["rerun"] = timed([*fullcycle, "run", "taxi_tips"], env, work / "rerun.log")
    print(f"fullcycle run taxi_tips rerun{results['rerun']:7.1f} s", flush=True)
    for component in json.loads(summary.read_text())["components"]:
        if component["seconds"] is not None:
            print(f"  cold {component['node_id']:<30} {component['seconds']:6.1f} s")
    if "stock" in results:
        print(f"ratio cold / stock  = {results['cold'] / results['stock']:.2f}  (target <= 0.60)")
    print(f"ratio rerun / cold  = {results['rerun'] / results['cold']:.2f}  (target <= 0.10)")
    print(f"logs in {work}")


if __name__ == "__main__":
    main()
