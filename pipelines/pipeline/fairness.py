"""Fairness, judged: per-group counts, metric values, and the rule a slice must meet.

The Evaluator's ``FairnessGate`` metric (``fairness_metric.py``) accumulates
``Counts`` per value of each ``slice_by`` column and for all eval examples;
``judge`` turns them into the report the run summary shows, and its number of
violations is the one value TFMA gates blessing on. Reading the report back
from an evaluation is here too, so the summary does not need TFMA's metric code.

The rule, per slice and metric:
- fewer than ``min_slice_size`` examples: reported, not gated (``small``);
- the metric undefined on the slice (e.g. a false positive rate without
  negatives): reported as ``undefined``, not a failure;
- otherwise it fails when below ``lower_bound``, above ``upper_bound``, or more
  than ``max_gap`` away from the overall value (when that is defined).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.config.fairness import Fairness
from pipelines.config.slices import MISSING_VALUE, slice_label

# Predictions are binned this finely to compute AUC per group (TFMA uses 10000
# thresholds for its overall AUC; 1000 bins keep the same order of error).
AUC_BINS = 1000
VIOLATIONS = "fairness_violations"  # the TFMA metric key blessing is gated on
REPORT = "fairness_report"  # the TFMA metric key holding the report as JSON


@dataclass
class Counts:
    """What every fairness metric of one group of examples is computed from."""

    examples: int = 0
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    correct: int = 0
    squared_error: float = 0.0
    absolute_error: float = 0.0
    positives: np.ndarray = field(default_factory=lambda: np.zeros(AUC_BINS, np.int64))
    negatives: np.ndarray = field(default_factory=lambda: np.zeros(AUC_BINS, np.int64))

    def add(self, task: str, label: np.ndarray, prediction: np.ndarray,
            decision_threshold: float) -> None:
        """One example's label and prediction (a probability vector when multiclass)."""
        self.examples += 1
        if task == "regression":
            error = float(prediction.reshape(-1)[0]) - float(label.reshape(-1)[0])
            self.squared_error += error * error
            self.absolute_error += abs(error)
        elif task == "multiclass_classification":
            self.correct += int(int(np.argmax(prediction)) == int(label.reshape(-1)[0]))
        else:
            score = float(prediction.reshape(-1)[0])
            actual = float(label.reshape(-1)[0]) > 0.5
            predicted = score > decision_threshold
            self.tp += actual and predicted
            self.fp += (not actual) and predicted
            self.tn += (not actual) and not predicted
            self.fn += actual and not predicted
            self.correct += actual == predicted
            bin_ = min(max(int(score * AUC_BINS), 0), AUC_BINS - 1)
            (self.positives if actual else self.negatives)[bin_] += 1

    def merge(self, other: Counts) -> None:
        for name in ("examples", "tp", "fp", "tn", "fn", "correct", "squared_error",
                     "absolute_error"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.positives = self.positives + other.positives
        self.negatives = self.negatives + other.negatives


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def auc(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """ROC AUC from binned scores: P(positive scores above negative), ties count half."""
    n_pos, n_neg = int(positives.sum()), int(negatives.sum())
    if not n_pos or not n_neg:
        return None
    negatives_below = np.concatenate([[0], np.cumsum(negatives)[:-1]])
    wins = float(np.sum(positives * negatives_below) + 0.5 * np.sum(positives * negatives))
    return wins / (n_pos * n_neg)


def metric_value(name: str, counts: Counts) -> float | None:
    """The metric on a group; None where it is undefined (no example it divides by)."""
    c = counts
    values = {
        "false_positive_rate": lambda: _ratio(c.fp, c.fp + c.tn),
        "true_positive_rate": lambda: _ratio(c.tp, c.tp + c.fn),
        "recall": lambda: _ratio(c.tp, c.tp + c.fn),
        "false_negative_rate": lambda: _ratio(c.fn, c.tp + c.fn),
        "precision": lambda: _ratio(c.tp, c.tp + c.fp),
        "accuracy": lambda: _ratio(c.correct, c.examples),
        "positive_prediction_rate": lambda: _ratio(c.tp + c.fp, c.examples),
        "auc": lambda: auc(c.positives, c.negatives),
        "mse": lambda: _ratio(c.squared_error, c.examples),
        "mae": lambda: _ratio(c.absolute_error, c.examples),
    }
    return values[name]()


def slice_value(values: np.ndarray | None) -> str:
    """A slice column's value in one example, as the group's name."""
    if values is None or np.size(values) == 0:
        return MISSING_VALUE
    return slice_label(np.asarray(values).reshape(-1)[0])


def value_order(value: str) -> tuple:
    """Sort key of slice values: integers by number (2 before 10), then text."""
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)


def judge(fairness: Fairness, overall: Counts,
          groups: dict[tuple[str, str], Counts]) -> dict[str, Any]:
    """The fairness report: every slice's metrics, gaps and verdict, and the violations.

    ``groups`` maps (column, value) to the counts of that slice; examples whose
    slice column is missing are grouped under ``(missing)`` and reported, not gated.
    """
    overall_values = {m.name: metric_value(m.name, overall) for m in fairness.metrics}
    slices, failures, not_gated = [], [], []
    for column in fairness.slice_by:
        values = sorted((value for col, value in groups if col == column), key=value_order)
        if not any(value != MISSING_VALUE for value in values):
            failures.append({"column": column, "value": None, "metric": None,
                             "reason": f"column {column!r} has no value in the eval examples"})
        for value in values:
            counts = groups[(column, value)]
            gated = value != MISSING_VALUE and counts.examples >= fairness.min_slice_size
            row = {"column": column, "value": value, "examples": counts.examples,
                   "gated": gated, "metrics": {}}
            for spec in fairness.metrics:
                result = _judge_metric(spec, metric_value(spec.name, counts),
                                       overall_values[spec.name], gated)
                row["metrics"][spec.name] = result
                for reason in result["violations"]:
                    failures.append({"column": column, "value": value, "metric": spec.name,
                                     "reason": reason})
            row["passed"] = not any(r["violations"] for r in row["metrics"].values())
            if not gated:
                not_gated.append({"column": column, "value": value,
                                  "examples": counts.examples})
            slices.append(row)
    return {
        "slice_by": list(fairness.slice_by), "min_slice_size": fairness.min_slice_size,
        "decision_threshold": fairness.decision_threshold,
        "metrics": [m.name for m in fairness.metrics],  # in config order
        "bounds": {m.name: m.model_dump(exclude={"name"}) for m in fairness.metrics},
        "overall": {"examples": overall.examples, "metrics": overall_values},
        "slices": slices, "failures": failures, "not_gated": not_gated,
        "violations": len(failures),
    }


def _judge_metric(spec, value: float | None, overall: float | None,
                  gated: bool) -> dict[str, Any]:
    gap = None if value is None or overall is None else value - overall
    if not gated:
        status, violations = "small", []
    elif value is None:
        status, violations = "undefined", []
    else:
        violations = []
        if spec.lower_bound is not None and value < spec.lower_bound:
            violations.append(f"{spec.name} {value:.4g} is below lower_bound {spec.lower_bound:g}")
        if spec.upper_bound is not None and value > spec.upper_bound:
            violations.append(f"{spec.name} {value:.4g} is above upper_bound {spec.upper_bound:g}")
        if spec.max_gap is not None and gap is not None and abs(gap) > spec.max_gap:
            violations.append(f"{spec.name} {value:.4g} is {abs(gap):.4g} from the overall "
                              f"{overall:.4g}, more than max_gap {spec.max_gap:g}")
        status = "fail" if violations else "pass"
    return {"value": value, "gap": gap, "status": status, "violations": violations}


def read_report(evaluation_uri: str, model_name: str = "candidate") -> dict[str, Any] | None:
    """The candidate's fairness report from an Evaluator's output, or None without one."""
    import tensorflow_model_analysis as tfma

    found: dict[str, str] = {}
    for record in tfma.load_metrics(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for item in record.metric_keys_and_values:
            if item.key.name == REPORT and not item.key.is_diff:
                found[item.key.model_name] = item.value.bytes_value.decode("utf-8")
    text = found.get(model_name, found.get("")) if found else None
    return None if text is None else json.loads(text)
