"""Report pages of local runs: gathered from the workspace, written beside it.

The local half of the report: it reads the local endpoint's rollout state, so
the cloud path (the VertexPusher's model card) does not import it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from pipelines.config.model_config import ModelConfig
from pipelines.report.facts import (
    ReportFacts,
    fairness_facts,
    feature_facts,
    slice_metrics,
    training_history,
)
from pipelines.report.render import MODEL_CARD_FILE, render_model_card, render_report
from pipelines.report.runs import RunRecord
from pipelines.report.scores import RECENT, list_scores, score_row
from pipelines.settings import Workspace

_DEPLOYED_AS = re.compile(r"deployed as (\S+) with")


def rollout_facts(workspace: Workspace, model: str, deployment: str | None) -> dict | None:
    """The canary rollout of the version this run deployed, if one ran."""
    from pipelines.serving.rollout import FileRolloutStore

    found = _DEPLOYED_AS.search(deployment or "")
    if found is None:
        return None
    state = FileRolloutStore(workspace.rollout_state(model)).load()
    if state is None or state["candidate_id"] != found.group(1):
        return None
    return state


def gather(workspace: Workspace, record: RunRecord) -> ReportFacts:
    """Reads what the report needs from the run's record and artifacts."""
    from pipelines.pipeline.baseline import Baseline

    summary = record.summary
    config = ModelConfig.model_validate(record.config)
    baseline = (summary.validation or {}).get("baseline")
    artifacts = summary.artifacts
    split = "train" if "train" in summary.split_rows else next(iter(summary.split_rows), "")
    features = (feature_facts(config, artifacts["statistics"], split,
                              Baseline(**baseline) if baseline else None)
                if "statistics" in artifacts else [])
    return ReportFacts(
        model=summary.model, record=record, config=config,
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"), features=features, split=split,
        training=training_history(artifacts.get("model_run")),
        slices=slice_metrics(config, artifacts.get("evaluation")),
        fairness=fairness_facts(summary.fairness),
        rollout=rollout_facts(workspace, summary.model, summary.deployment),
        version=Path(summary.pushed_path).name if summary.pushed_path else None,
        scores=[score_row(s) for s in list_scores(workspace, summary.model, RECENT)])


def report_path(workspace: Workspace, model: str, run_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return workspace.home / "reports" / model / f"{safe}.html"


def write_report(workspace: Workspace, record: RunRecord, out: Path | None = None) -> Path:
    """Writes the run's report page (and, for a pushed run, its model card beside the
    pushed model); returns the page's path."""
    facts = gather(workspace, record)
    path = out or report_path(workspace, facts.model, record.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(facts), encoding="utf-8")
    tmp.replace(path)
    pushed = record.summary.pushed_path
    if pushed and Path(pushed).is_dir():
        (Path(pushed) / MODEL_CARD_FILE).write_text(render_model_card(facts), encoding="utf-8")
    return path
