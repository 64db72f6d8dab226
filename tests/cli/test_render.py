"""Run output read where people read it: piped into a log or CI, or on a terminal."""

import os
import subprocess
import sys

NOTE = "not meaningful for a regression label (exact match only)"
SUMMARY = f'''
import numpy as np

from pipelines.cli.render import print_summary
from pipelines.config import Fairness, fairness_metric
from pipelines.pipeline.fairness import Counts, judge
from pipelines.pipeline.summary import MetricResult, RunSummary


def counts(errors):
    c = Counts()
    for e in errors:
        c.add("regression", np.array([0.0]), np.array([e]), 0.5)
    return c


fairness = judge(Fairness(slice_by=["sex"], min_slice_size=30,
                          metrics=[fairness_metric("mae", max_gap=20.0)]),
                 counts([40.0] * 98), {{("sex", "1"): counts([44.0] * 44),
                                       ("sex", "2"): counts([28.0] * 54)}})

print_summary(RunSummary(
    model="diabetes_progression", run_id="diabetes_progression-2026-12-06T10:00:00", seconds=12.5,
    split_rows={{"train": 353, "eval": 89}},
    validation={{"baseline": {{"recorded_at": 1_800_000_000.0}}, "findings": [], "blocked": 0}},
    metrics=[MetricResult("mse", 2901.0, 3000.25, None, 4000.0, 100.0, True),
             MetricResult("accuracy", 0.0, note="{NOTE}")],
    fairness=fairness, blessed=True,
    infra_validation={{"blessed": True, "requests": 20, "latency_p99_ms": 1.3}},
    pushed_path="/home/someone/.fullcycle/serving/diabetes_progression/1765015200",
    deployment="deployed as 1765015200 with 10 % of the traffic (canary step 1 of 3)"))
'''


def printed(columns: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    done = subprocess.run([sys.executable, "-c", SUMMARY], stdout=subprocess.PIPE, text=True,
                          env=env, timeout=120, check=True)
    return done.stdout.splitlines()


def line_with(lines: list[str], text: str) -> str:
    (line,) = [line for line in lines if text in line]
    return line


def test_summary_piped_breaks_no_line_inside_a_phrase():
    lines = printed(None)  # a pipe, no COLUMNS: rich alone would wrap at 80
    assert line_with(lines, "data validation (against the baseline").endswith(": no findings")
    assert line_with(lines, "infra validation: passed").endswith("p99 1.3 ms)")
    assert line_with(lines, "endpoint: deployed as").endswith("(canary step 1 of 3)")
    row = line_with(lines, "accuracy").split()  # a table row stays one row
    assert row[:3] == ["accuracy", "0", "-"] and " ".join(row[3:]) == NOTE
    assert line_with(lines, "mse").split() == ["mse", "2901", "3000", "[-,", "4000]", "100",
                                                "pass"]
    assert "fairness (slices of at least 30 eval examples are gated)" in lines  # not wrapped
    assert line_with(lines, "sex=1").split() == ["sex=1", "44", "44", "(+4)", "pass"]
    assert max(len(line) for line in lines) > 80


def test_summary_piped_keeps_to_columns_when_set():
    lines = printed("60")
    assert max(len(line) for line in lines) <= 60
    assert any("infra validation: passed" in line for line in lines)
