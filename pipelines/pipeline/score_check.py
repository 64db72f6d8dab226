"""What a score is, wherever it runs: its destination's columns and its data check.

Shared by ``fullcycle score`` (``pipelines/workflows/score.py``, DuckDB rows) and the
cloud score's post-step (``pipelines/cloud/score_append.py``, BigQuery rows), so both
write the same columns and block on the same findings: the rows' statistics against
the model's data baseline with the DataValidator's checks and thresholds
(``pipelines.pipeline.validation.compare``, the config's ``data_validation``); the
row-count check is left out, as a score has as many rows as asked for.
"""

from __future__ import annotations

import dataclasses

from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import ModelConfig
from pipelines.report.scores import ScoreSummary

CHECK_ROWS = 100_000  # a uniform sample this large measures drift and missing values closely
CLASSIFIERS = ("binary_classification", "multiclass_classification")


class ScoreBlockedError(FullcycleError):
    """The rows failed the data check; nothing was written. ``summary`` says why."""

    def __init__(self, summary: ScoreSummary):
        from pipelines.pipeline.validation import Finding

        lines = [Finding(**f).line() for f in summary.blocking]
        super().__init__(
            f"score of {summary.model} blocked by the data check ({len(lines)} finding(s)); "
            f"nothing was written to {summary.destination}: " + "; ".join(lines[:3])
            + ("; ..." if len(lines) > 3 else "")
            + " (a check's action 'warn' in the config's data_validation lets such rows "
              "through)")
        self.summary = summary


def score_columns(config: ModelConfig) -> list[str]:
    """The destination's columns, in order."""
    predicted = ["prediction"] + (["predicted_class"] if config.task in CLASSIFIERS else [])
    return [*config.score_keys, *config.batch_prediction.columns, *predicted,
            "model_version", "scored_at", "score_id"]


def check_batches(config: ModelConfig, baseline, batches, summary: ScoreSummary) -> None:
    """The rows' statistics (Arrow record ``batches``: the sample) against ``baseline``
    (a ``Baseline`` whose ``statistics_uri``/``schema_uri`` this process can read), with
    the config's ``data_validation`` checks and thresholds; fills ``summary``. Local and
    cloud scores (``pipelines/cloud/score_append.py``) both check this way."""
    from pipelines.data.example_lists import as_example_lists
    from pipelines.pipeline.baseline import read_schema
    from pipelines.pipeline.statistics import record_batch_statistics
    from pipelines.pipeline.validation import compare, load_statistics

    summary.baseline = baseline.version

    def examples():
        for batch in batches:
            summary.checked_rows += batch.num_rows
            yield as_example_lists(batch)

    statistics = record_batch_statistics(examples())
    reference = load_statistics(baseline.statistics_uri)
    split = "train" if "train" in reference else sorted(reference)[0]
    findings = compare({split: statistics}, {split: reference[split]},
                       read_schema(baseline.schema_uri), list(config.raw_feature_keys),
                       config.data_validation)
    summary.findings = [dataclasses.replace(f, split=f"score vs {split}").as_dict()
                        for f in findings if f.check != "example_count"]
