"""The runs of a model, newest first: one record per TFX run, kept in the workspace.

``run_local`` records every run it executed (failed ones too) as
``.fullcycle/runs/<model>/history/<run id>.json``: the run summary and the
config it ran with, so a report of an old run shows that run's config.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config.errors import FullcycleError, did_you_mean
from pipelines.pipeline.hyperparameters import used_tuned_values
from pipelines.pipeline.summary import RunSummary
from pipelines.settings import Workspace

_SAFE = re.compile(r"[^A-Za-z0-9_.:+-]")


@dataclass
class RunRecord:
    summary: RunSummary
    config: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.summary.run_id or ""


def history_dir(workspace: Workspace, model: str) -> Path:
    return workspace.home / "runs" / model / "history"


def _path(workspace: Workspace, model: str, run_id: str) -> Path:
    return history_dir(workspace, model) / f"{_SAFE.sub('_', run_id)}.json"


def record_run(workspace: Workspace, config, summary: RunSummary) -> None:
    """Keeps ``summary`` (a run TFX executed) for ``fullcycle runs`` and reports."""
    if not summary.run_id or summary.cache == "run":
        return
    path = _path(workspace, config.name, summary.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"summary": summary.as_dict(),
                               "config": config.model_dump(mode="json")}, default=str))
    tmp.replace(path)


def _load(path: Path) -> RunRecord:
    data = json.loads(path.read_text())
    return RunRecord(RunSummary.from_dict(data["summary"]), data["config"])


def list_runs(workspace: Workspace, model: str) -> list[RunRecord]:
    """Every recorded run of ``model``, newest first."""
    folder = history_dir(workspace, model)
    records = [_load(path) for path in folder.glob("*.json")] if folder.is_dir() else []
    return sorted(records, key=lambda r: (r.summary.started_at or 0, r.run_id), reverse=True)


def find_run(workspace: Workspace, model: str, run_id: str | None = None) -> RunRecord:
    """The run ``run_id`` of ``model`` (the latest by default), or an error listing runs."""
    runs = list_runs(workspace, model)
    if not runs:
        raise FullcycleError(f"model {model!r} has no recorded runs in {workspace.home}; "
                             f"`fullcycle run {model}` makes one")
    if run_id is None:
        return runs[0]
    for record in runs:
        if record.run_id == run_id:
            return record
    latest = ", ".join(r.run_id for r in runs[:5])
    raise FullcycleError(f"model {model!r} has no run {run_id!r}"
                         f"{did_you_mean(run_id, [r.run_id for r in runs])}; the latest: "
                         f"{latest} (`fullcycle runs {model}` lists them all)")


def headline(record: RunRecord) -> tuple[str, float | None] | None:
    """The run's first configured metric and its value, the one a list shows."""
    metrics = [m for m in record.summary.metrics if m.name != "example_count"]
    return (metrics[0].name, metrics[0].value) if metrics else None


def run_row(record: RunRecord) -> dict[str, Any]:
    """One run as ``fullcycle runs`` lists it (and ``--json`` gives it)."""
    s = record.summary
    head = headline(record)
    cached = [c.node_id for c in s.components if c.state == "CACHED"]
    return {
        "run_id": s.run_id, "started_at": s.started_at, "seconds": round(s.seconds, 1),
        "rows": s.split_rows, "metric": head[0] if head else None,
        "value": head[1] if head else None, "blessed": s.blessed,
        "pushed_version": Path(s.pushed_path).name if s.pushed_path else None,
        "cached_components": len(cached), "components": len(s.components),
        "error": s.error, "report": s.report,
        # The tuning result's version the run trained with; None: the config's values
        # (never tuned, or the tuning kept them).
        "tuned": s.hyperparameters["version"] if used_tuned_values(s.hyperparameters) else None,
    }
