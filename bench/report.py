"""How long the run report takes for taxi_tips.

Two ``fullcycle run taxi_tips`` in a fresh workspace (15k rows; the first is
blessed and becomes the second's data baseline, so the second's report measures
drift of every column too); then, side by side on the second run:
  in-process   ``write_report`` in a warm process: what ``fullcycle run`` adds
  command      ``fullcycle report taxi_tips`` in a new process (imports included)
Medians of 3. Target: the report adds at most 5 % to the run.
Usage: python bench/report.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import fresh_workspace, fullcycle  # noqa: E402

TARGET = 0.05


def main() -> None:
    work, env = fresh_workspace("report")
    os.environ.update(env)
    for _ in range(2):
        fullcycle(env, "run", "taxi_tips", "--force", "--json", str(work / "run.json"),
                  log=work / "run.log")
    run = json.loads((work / "run.json").read_text())
    print(f"run of taxi_tips: {run['seconds']:.1f} s, report {run['report']}", flush=True)

    command = []
    for i in range(3):
        started = time.monotonic()
        fullcycle(env, "report", "taxi_tips", "-o", str(work / f"cmd{i}.html"))
        command.append(time.monotonic() - started)

    from pipelines.report.pages import write_report
    from pipelines.report.runs import find_run
    from pipelines.settings import Workspace

    workspace = Workspace.from_env()
    record = find_run(workspace, "taxi_tips")
    write_report(workspace, record, work / "warmup.html")  # imports TFMA and TFDV once
    warm = []
    for i in range(3):
        started = time.monotonic()
        write_report(workspace, record, work / f"warm{i}.html")
        warm.append(time.monotonic() - started)
    size = (work / "warm0.html").stat().st_size
    in_process, cold = statistics.median(warm), statistics.median(command)
    print(f"report in-process (warm) median {in_process:.2f} s; `fullcycle report` "
          f"median {cold:.2f} s; page {size / 1024:.0f} KiB")
    print(f"report share of a taxi_tips run: {in_process / run['seconds']:.3f} "
          f"(target <= {TARGET})", flush=True)
    os._exit(0)  # skip TensorFlow's noisy teardown


if __name__ == "__main__":
    main()
