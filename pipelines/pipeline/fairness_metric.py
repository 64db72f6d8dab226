"""``FairnessGate``: a TFMA metric that judges every slice inside the Evaluator.

Named in the eval config by ``module=`` (``build_eval_config``), so the
Evaluator imports it wherever it runs: locally, and in the runner image on
Vertex AI Pipelines. It is computed on the overall slice and groups examples by
each ``slice_by`` column itself, which lets one rule see every slice at once:
small slices are reported and not gated, undefined values are not failures, and
gaps are measured against the overall value. It yields two keys:
``fairness_violations`` (blessing requires 0) and ``fairness_report`` (JSON).
TFMA's native per-slice thresholds cannot express the first two rules: a slice
below ``min_slice_size`` or with a NaN value fails every threshold on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from tensorflow_model_analysis.metrics import metric_types, metric_util

from pipelines.config.fairness import Fairness
from pipelines.pipeline.fairness import REPORT, VIOLATIONS, Counts, judge, slice_value

MODULE = __name__


class FairnessGate(metric_types.Metric):
    """Per-slice fairness metrics, gaps to overall and bounds, as one gated count."""

    def __init__(self, name: str = VIOLATIONS, fairness: dict[str, Any] | None = None,
                 task: str = "binary_classification", code: str = ""):
        # ``code``, a hash of this code, only makes the eval config change with it.
        del code
        super().__init__(_computations, name=name, fairness=fairness, task=task)


def _computations(name: str = VIOLATIONS, fairness: dict[str, Any] | None = None,
                  task: str = "binary_classification", eval_config=None,
                  model_names: list[str] | None = None, output_names: list[str] | None = None,
                  example_weighted: bool = False) -> metric_types.MetricComputations:
    settings = Fairness.model_validate(fairness)
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            keys = [metric_types.MetricKey(name=key, model_name=model_name,
                                           output_name=output_name,
                                           example_weighted=example_weighted)
                    for key in (name, REPORT)]
            computations.append(metric_types.MetricComputation(
                keys=keys,
                preprocessors=[metric_types.FeaturePreprocessor(
                    feature_keys=list(settings.slice_by))],
                combiner=_FairnessCombiner(keys, eval_config, settings, task)))
    return computations


class _FairnessCombiner(beam.CombineFn):
    """Counts per (column, value) and overall; the report on extraction."""

    def __init__(self, keys: list[metric_types.MetricKey], eval_config, settings: Fairness,
                 task: str):
        self._violations_key, self._report_key = keys
        self._eval_config = eval_config
        self._settings = settings
        self._task = task

    def create_accumulator(self) -> tuple[Counts, dict[tuple[str, str], Counts]]:
        return Counts(), {}

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        overall, groups = accumulator
        label, prediction, _ = next(metric_util.to_label_prediction_example_weight(
            element, eval_config=self._eval_config,
            model_name=self._violations_key.model_name,
            output_name=self._violations_key.output_name, flatten=False,
            require_single_example_weight=True))
        threshold = self._settings.decision_threshold
        overall.add(self._task, label, prediction, threshold)
        features = element.features or {}
        for column in self._settings.slice_by:
            group = (column, slice_value(features.get(column)))
            groups.setdefault(group, Counts()).add(self._task, label, prediction, threshold)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable):
        accumulators = iter(accumulators)
        overall, groups = next(accumulators)
        for other_overall, other_groups in accumulators:
            overall.merge(other_overall)
            for group, counts in other_groups.items():
                groups.setdefault(group, Counts()).merge(counts)
        return overall, groups

    def extract_output(self, accumulator) -> dict[metric_types.MetricKey, Any]:
        overall, groups = accumulator
        report = judge(self._settings, overall, groups)
        return {self._violations_key: float(report["violations"]),
                self._report_key: json.dumps(report, sort_keys=True)}
