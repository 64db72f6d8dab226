"""Local pipeline speed: TFX's stock taxi example vs ``fullcycle run``, cold and cached.

All in fresh processes (imports included), in one run:

  stock           tfx.examples.chicago_taxi_pipeline.taxi_pipeline_native_keras, 15k rows
  taxi cold       fullcycle run taxi_tips, empty workspace (warehouse seeded beforehand):
                  the same rows, components and 1000 train / 150 eval steps at batch 40
  taxi cached     fullcycle run taxi_tips again, unchanged data and code
  basic_template  fullcycle run basic_template, cold (2,000 rows, 250 epochs)

Targets: taxi cold <= 0.35 x stock; taxi cached <= 0.1 x stock; basic_template cold
<= 0.2 x stock.
Usage: python bench/local_pipeline.py [--skip-stock]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import PYTHON, component_seconds, fresh_workspace, run_measured, stock_taxi  # noqa: E402


def main() -> None:
    work, env = fresh_workspace("pipeline")
    fullcycle = [PYTHON, "-m", "pipelines.cli.main", "run"]
    seconds: dict[str, float] = {}
    if "--skip-stock" not in sys.argv:
        seconds["stock"] = stock_taxi(work, env)[0]
        print(f"stock TFX taxi pipeline        {seconds['stock']:7.1f} s", flush=True)
    runs = {"taxi cold": ["taxi_tips"], "taxi cached": ["taxi_tips"],
            "basic_template": ["basic_template"]}
    for name, args in runs.items():
        summary = work / f"{name.replace(' ', '_')}.json"
        seconds[name] = run_measured([*fullcycle, *args, "--json", str(summary)], env,
                                     work / f"{name.replace(' ', '_')}.log")[0]
        print(f"fullcycle {name:<20} {seconds[name]:7.1f} s", flush=True)
        if name != "taxi cached":
            print("  " + ", ".join(f"{node} {s:.1f}" for node, s in
                                   component_seconds(summary).items() if s >= 0.1))
    print(f"logs in {work}")
    print(f"taxi cached / taxi cold: {seconds['taxi cached'] / seconds['taxi cold']:.3f}")
    if "stock" in seconds:
        stock = seconds["stock"]
        print(f"taxi cold ratio: {seconds['taxi cold'] / stock:.2f} (target <= 0.35)")
        print(f"taxi cached ratio: {seconds['taxi cached'] / stock:.3f} (target <= 0.1)")
        print(f"basic_template ratio: {seconds['basic_template'] / stock:.2f} (target <= 0.2)")


if __name__ == "__main__":
    main()
