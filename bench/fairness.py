"""What fairness evaluation adds to the Evaluator's time on taxi_tips.

One ``fullcycle run taxi_tips`` on the seeded 15k-row taxi data makes the
examples and the trained model; then TFX's Evaluator executor runs on those
artifacts in this process, alternating the model's own eval config and the same
config plus ``fairness`` sliced by two columns (``payment_type``, ``company``:
7 and 80+ values), after one warm-up. Medians of the alternating runs are
compared side by side. Target: fairness adds at most 25 % to the Evaluator.
Usage: python bench/fairness.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import fresh_workspace, fullcycle  # noqa: E402

TARGET = 1.25
SLICE_BY = ["payment_type", "company"]


def train() -> tuple[Path, Path]:
    """A taxi_tips run in a fresh workspace; (its folder, its pipeline root)."""
    work, env = fresh_workspace("fairness")
    fullcycle(env, "run", "taxi_tips", "--force", "--json", str(work / "run.json"),
              log=work / "run.log")
    return work, work / "home" / "pipelines" / "taxi_tips"


def latest(root: Path, node: str, output: str) -> str:
    found = sorted((root / node / output).iterdir(), key=lambda p: int(p.name))
    return str(found[-1])


def evaluate(eval_config, examples_uri: str, model_uri: str, out: Path) -> float:
    """Seconds of one Evaluator executor run on the eval split."""
    from google.protobuf import json_format
    from tfx.components.evaluator.executor import Executor
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri, examples.split_names = examples_uri, json.dumps(["train", "eval"])
    model = standard_artifacts.Model()
    model.uri, model.id = model_uri, 1
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(out / "evaluation"), str(out / "blessing")
    started = time.monotonic()
    Executor().Do({"examples": [examples], "model": [model]},
                  {"evaluation": [evaluation], "blessing": [blessing]},
                  {"eval_config": json_format.MessageToJson(eval_config),
                   "example_splits": json.dumps(["eval"])})
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work, root = train()
    print(f"trained taxi_tips in {work}", flush=True)

    from pipelines.compat import patch_beam_for_tft
    from pipelines.config import Fairness, fairness_metric, load_config
    from pipelines.config.registry import with_overrides
    from pipelines.pipeline.eval_config import build_eval_config
    from pipelines.pipeline.fairness import read_report

    patch_beam_for_tft()
    config = load_config("taxi_tips")
    fair = with_overrides(config, fairness=Fairness(slice_by=SLICE_BY, metrics=[
        fairness_metric("false_positive_rate", max_gap=0.5),
        fairness_metric("recall", max_gap=0.5), fairness_metric("auc", lower_bound=0.0)]))
    configs = {"plain": build_eval_config(config), "fairness": build_eval_config(fair)}
    examples = latest(root, "DuckDBExampleGen", "examples")
    model = latest(root, "Trainer", "model")
    sys.argv = sys.argv[:1]  # TFX's Beam executors parse sys.argv as flags
    evaluate(configs["plain"], examples, model, work / "warmup")
    seconds: dict[str, list[float]] = {"plain": [], "fairness": []}
    for i in range(args.repeats):
        for name, eval_config in configs.items():
            seconds[name].append(evaluate(eval_config, examples, model, work / f"{name}{i}"))
            print(f"  {name:<9} run {i + 1}: {seconds[name][-1]:6.2f} s", flush=True)
    report = read_report(str(work / "fairness0" / "evaluation"))
    slices = len(report["slices"])
    plain, fairness = (statistics.median(seconds[n]) for n in ("plain", "fairness"))
    print(f"Evaluator median: plain {plain:.2f} s, with fairness ({slices} slices of "
          f"{', '.join(SLICE_BY)}, 3 metrics) {fairness:.2f} s")
    print(f"fairness evaluator time ratio: {fairness / plain:.3f} (target <= {TARGET})",
          flush=True)
    os._exit(0)  # skip TensorFlow's noisy teardown of the models loaded in this process


if __name__ == "__main__":
    main()
