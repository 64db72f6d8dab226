"""The model card of a push, from the artifacts a Pusher can see (used on Vertex AI).

Locally the run report writes the card beside the pushed model; on Vertex AI the
VertexPusher has no run summary, so it builds the card from the Evaluator's
output and the statistics, and uploads it with the model version.
"""

from __future__ import annotations

import time

from pipelines.config.model_config import ModelConfig
from pipelines.pipeline.summary import RunSummary, evaluation_metrics, split_rows
from pipelines.report.facts import ReportFacts
from pipelines.report.runs import RunRecord


def push_card(config: ModelConfig, *, run_id: str, version: str, pushed: str,
              evaluation_uri: str | None, statistics_uri: str | None) -> str:
    """The model card (Markdown) of a blessed model pushed as ``version`` to ``pushed``."""
    from pipelines.pipeline.fairness import read_report
    from pipelines.report.render import render_model_card

    summary = RunSummary(model=config.name, run_id=run_id, seconds=0.0, blessed=True,
                         pushed_path=pushed, started_at=time.time())
    if statistics_uri:
        summary.split_rows = split_rows(statistics_uri)
    if evaluation_uri:
        summary.metrics = evaluation_metrics(evaluation_uri, config, True)
        if config.fairness is not None:
            summary.fairness = read_report(evaluation_uri)
    facts = ReportFacts(model=config.name, record=RunRecord(summary, {}), config=config,
                        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"), features=[],
                        split="", training=None, slices=[], fairness=None, rollout=None,
                        version=version)
    return render_model_card(facts)
