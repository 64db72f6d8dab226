"""Tuned against untuned: does `fullcycle tune` find training args no worse than the config's?

In two fresh workspaces on the seeded sample data: ``fullcycle run basic_template``
with the config's own training args, and ``fullcycle tune basic_template`` (its
default search space: the config's values and 6 trials, each trained as a run
trains once per cross-validation fold of the train split) followed by ``fullcycle
run basic_template``, which trains with the result (a trial better than the
config's values in every fold, else the config's own). Both runs are evaluated by
the Evaluator on the same eval split. Printed side by side: eval MSE, the result,
and ``tune seconds per trial`` (a trial's seconds: all its folds).
Target: the tuned run's eval MSE is no worse than the untuned run's.
Usage: python bench/tuning.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import fresh_workspace, fullcycle  # noqa: E402

MODEL = "basic_template"


def eval_mse(summary: dict) -> float:
    return next(m["value"] for m in summary["metrics"] if m["name"] == "mse")


def timed(env: dict[str, str], log: Path, *args: str) -> float:
    started = time.monotonic()
    fullcycle(env, *args, log=log)
    return time.monotonic() - started


def main() -> None:
    plain, plain_env = fresh_workspace("untuned")
    plain_seconds = timed(plain_env, plain / "run.log", "run", MODEL, "--json",
                          str(plain / "run.json"))
    untuned = json.loads((plain / "run.json").read_text())

    work, env = fresh_workspace("tuned")
    tune_seconds = timed(env, work / "tune.log", "tune", MODEL, "--json",
                         str(work / "tune.json"))
    tuning = json.loads((work / "tune.json").read_text())
    run_seconds = timed(env, work / "run.log", "run", MODEL, "--json", str(work / "run.json"))
    tuned = json.loads((work / "run.json").read_text())
    assert tuned["hyperparameters"]["version"] == tuning["result"]["version"], "not imported"

    trials = tuning["result"]["trials"]
    per_trial = sum(t["seconds"] for t in trials) / len(trials)
    mse_untuned, mse_tuned = eval_mse(untuned), eval_mse(tuned)
    print(f"{'':24}{'untuned':>12}{'tuned':>12}")
    print(f"{'eval MSE':24}{mse_untuned:12.4f}{mse_tuned:12.4f}")
    print(f"{'run seconds':24}{plain_seconds:12.1f}{run_seconds:12.1f}")
    print(f"tune seconds: {tune_seconds:.1f} (command), {len(trials)} trials")
    print(f"tune seconds per trial: {per_trial:.1f}")
    result = tuning["result"]
    folds = len(trials[0].get("fold_scores") or ())
    if result.get("adopted", True) and result["values"]:
        print(f"tuned values: {result['values']} ({result['objective']} "
              f"{result['score']:.4g}, mean of {folds} folds; better than the config's "
              "own in every fold)")
    else:
        print(f"tuned values: the config's own, kept ({result.get('decision')}; "
              f"{result['objective']} {result['score']:.4g}, mean of {folds} folds)")
    verdict = "met" if mse_tuned <= mse_untuned else "MISSED"
    print(f"target (tuned eval MSE <= untuned): {verdict}; workspaces {plain} and {work}")


if __name__ == "__main__":
    main()
