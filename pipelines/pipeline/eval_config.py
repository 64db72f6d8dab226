"""The Evaluator's TFMA config, built from the model config's metric spec and fairness."""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from pipelines.config.metrics import MetricThreshold
from pipelines.config.model_config import ModelConfig
from pipelines.pipeline.fairness import VIOLATIONS
from pipelines.pipeline.fingerprint import code_fingerprint
from pipelines.trainer.signatures import SERVING_TF_EXAMPLE


def metric_threshold(metric: MetricThreshold) -> tfma.MetricThreshold | None:
    """Value bounds and change limits of one metric as a TFMA threshold."""
    value = None
    if metric.lower_bound is not None or metric.upper_bound is not None:
        value = tfma.GenericValueThreshold(
            lower_bound=None if metric.lower_bound is None else {"value": metric.lower_bound},
            upper_bound=None if metric.upper_bound is None else {"value": metric.upper_bound})
    change = None
    if metric.has_change_threshold:
        # TFMA compares candidate - baseline: LOWER_IS_BETTER passes if diff <= absolute,
        # HIGHER_IS_BETTER if diff >= absolute; "worse by at most x" flips the sign.
        sign = 1.0 if metric.lower_is_better else -1.0
        direction = (tfma.MetricDirection.LOWER_IS_BETTER if metric.lower_is_better
                     else tfma.MetricDirection.HIGHER_IS_BETTER)
        change = tfma.GenericChangeThreshold(
            direction=direction,
            absolute=None if metric.absolute_change is None
            else {"value": sign * metric.absolute_change},
            relative=None if metric.relative_change is None
            else {"value": sign * metric.relative_change})
    if value is None and change is None:
        return None
    return tfma.MetricThreshold(value_threshold=value, change_threshold=change)


OVERALL = tfma.SlicingSpec()
# The code FairnessGate runs: its hash in the metric's config re-runs a cached
# Evaluator when that code changes (TFX's cache sees only the eval config).
FAIRNESS_CODE = ("config/fairness.py", "pipeline/fairness.py", "pipeline/fairness_metric.py")


def build_eval_config(config: ModelConfig) -> tfma.EvalConfig:
    """Metrics per the spec (plus example count), overall and per eval slice.

    Thresholds gate blessing on the overall slice only; eval slices are reported
    (a plain ``threshold`` would apply to every slice, small ones included).
    Fairness is one more metric on the overall slice, ``FairnessGate``, which
    judges every ``slice_by`` group itself; blessing needs its count of
    violations to be 0.
    """
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    if config.fairness is not None:
        from pipelines.pipeline import fairness_metric

        metrics.append(tfma.MetricConfig(
            class_name=fairness_metric.FairnessGate.__name__, module=fairness_metric.MODULE,
            config=json.dumps({"name": VIOLATIONS, "task": config.task,
                               "fairness": config.fairness.model_dump(mode="json"),
                               "code": code_fingerprint(config.name, FAIRNESS_CODE)},
                              sort_keys=True),
            per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                slicing_specs=[OVERALL], threshold=tfma.MetricThreshold(
                    value_threshold=tfma.GenericValueThreshold(
                        upper_bound={"value": 0.0})))]))
    for metric in config.eval_metric_spec.metrics:
        threshold = metric_threshold(metric)
        metrics.append(tfma.MetricConfig(
            class_name=metric.class_name(config.task),
            per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                slicing_specs=[OVERALL], threshold=threshold)] if threshold else None))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=SERVING_TF_EXAMPLE,
                                    label_key=config.label_key)],
        slicing_specs=[OVERALL] + [tfma.SlicingSpec(feature_keys=[key])
                                              for key in config.eval_slices],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)])
