"""``python -m tests.rehearsal MODEL [--stack dev] [--runs N]``: rehearse a model's Vertex run.

Prints a line per task (state, seconds, outputs) and a summary per run; writes each run's
spec, logs and ``summary.json`` and the calls of all runs (``calls.jsonl``) under ``--out``.
Exits 1 when a task failed or the run did not push what it should have.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    parser = argparse.ArgumentParser(prog="python -m tests.rehearsal",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--runs", type=int, default=1,
                        help="rehearse this many scheduled runs in a row on the same emulators")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the runs' files go (default .rehearsal/runs/MODEL)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: must be at least 1")
    from pipelines.config.errors import FullcycleError
    from pipelines.settings import Workspace
    from tests.rehearsal.emulators import EmulatorError
    from tests.rehearsal.rehearse import Rehearsal

    out = (args.out or Path(".rehearsal") / "runs" / args.model).resolve()
    ok = True
    try:
        with Rehearsal(args.model, args.stack, out, Workspace.from_env().warehouse) as rehearsal:
            print(f"rehearsing {args.model} (stack {args.stack}) in {out}", flush=True)
            for _ in range(args.runs):
                report = rehearsal.run(lambda r: print(r.line(), flush=True))
                print(f"{report.job_id}: {'all tasks succeeded' if report.succeeded else 'FAILED'}"
                      f" in {report.seconds:.0f} s")
                for problem in report.problems():
                    print(f"  problem: {problem}")
                print(f"  Vertex AI: {json.dumps(report.vertex)}")
                ok = ok and report.succeeded and not report.problems()
            print(f"calls: {len(rehearsal.calls.calls)} Google API requests in "
                  f"{out / 'calls.jsonl'}")
    except (FullcycleError, EmulatorError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
