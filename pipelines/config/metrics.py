"""Evaluation metric specs: what a candidate model must reach to be blessed.

``mse_metric(upper_bound=25, absolute_change=1)`` means: the candidate is blessed
only if its MSE is at most 25 and it is not worse than the last blessed model
by more than 1. Value bounds become TFMA ``GenericValueThreshold``s and changes
``GenericChangeThreshold``s; TFMA skips change thresholds on the first run,
when there is no baseline.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.config.errors import ConfigError, not_allowed

Task = Literal["regression", "binary_classification", "multiclass_classification"]

# Our short metric names -> the TFMA/Keras metric class per task.
_METRIC_CLASSES: dict[str, dict[str, str]] = {
    "mse": {"regression": "MeanSquaredError"},
    "mae": {"regression": "MeanAbsoluteError"},
    "rmse": {"regression": "RootMeanSquaredError"},
    "accuracy": {
        "regression": "Accuracy",
        "binary_classification": "BinaryAccuracy",
        "multiclass_classification": "SparseCategoricalAccuracy",
    },
    "auc": {"binary_classification": "AUC"},
    "precision": {"binary_classification": "Precision"},
    "recall": {"binary_classification": "Recall"},
}
_LOWER_IS_BETTER = {"mse", "mae", "rmse"}
# Metrics computed for a task but saying nothing there. On a float label, Keras
# ``Accuracy`` counts predictions exactly equal to the label: about never, so 0 for
# any model. Kept (the original platform's example evaluates it), marked wherever
# it is shown, and never a bound.
_NOT_MEANINGFUL = {("accuracy", "regression"):
                   "not meaningful for a regression label (exact match only)"}
# The key TFMA reports each Keras metric class under (its default ``name``).
TFMA_KEYS = {
    "MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
    "RootMeanSquaredError": "root_mean_squared_error", "Accuracy": "accuracy",
    "BinaryAccuracy": "binary_accuracy", "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
    "AUC": "auc", "Precision": "precision", "Recall": "recall",
}
METRIC_NAMES = tuple(sorted(_METRIC_CLASSES))


def check_bounds(what: str, lower: float | None, upper: float | None) -> None:
    """Refuses a lower bound above the upper bound of ``what`` (e.g. "metric 'mse'")."""
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"{what}: lower_bound {lower} is above upper_bound {upper}")


class MetricThreshold(BaseModel):
    """One metric the Evaluator computes, with optional bounds for blessing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short metric name, one of METRIC_NAMES.")
    lower_bound: float | None = Field(None, description="Blessed only if value >= this.")
    upper_bound: float | None = Field(None, description="Blessed only if value <= this.")
    absolute_change: float | None = Field(
        None, ge=0, description="Largest allowed worsening against the last blessed model.")
    relative_change: float | None = Field(
        None, ge=0, description="Largest allowed relative worsening (0.1 = 10 %).")

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name not in _METRIC_CLASSES:
            raise ValueError(not_allowed("metric", name, METRIC_NAMES))
        return name

    @model_validator(mode="after")
    def _bounds_ordered(self) -> MetricThreshold:
        check_bounds(f"metric {self.name!r}", self.lower_bound, self.upper_bound)
        return self

    @property
    def lower_is_better(self) -> bool:
        return self.name in _LOWER_IS_BETTER

    @property
    def has_change_threshold(self) -> bool:
        return self.absolute_change is not None or self.relative_change is not None

    def supports(self, task: str) -> bool:
        return task in _METRIC_CLASSES[self.name]

    def note(self, task: str) -> str | None:
        """Why this metric's value means nothing for ``task``, if it does not."""
        return _NOT_MEANINGFUL.get((self.name, task))

    def class_name(self, task: str) -> str:
        """The TFMA/Keras metric class computing this metric for ``task``."""
        try:
            return _METRIC_CLASSES[self.name][task]
        except KeyError:
            tasks = ", ".join(_METRIC_CLASSES[self.name])
            raise ConfigError(f"metric {self.name!r} is not defined for task {task!r}; "
                              f"it applies to: {tasks}") from None

    def tfma_key(self, task: str) -> str:
        """The name TFMA reports this metric under."""
        return TFMA_KEYS[self.class_name(task)]

    @property
    def bounded(self) -> bool:
        """Whether the metric can stop a model from being blessed."""
        return (self.lower_bound is not None or self.upper_bound is not None
                or self.has_change_threshold)


class MetricSpec(BaseModel):
    """The list of metrics the Evaluator computes and checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics: tuple[MetricThreshold, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> MetricSpec:
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric(s) listed twice in the metric spec: {', '.join(dupes)}")
        return self


def metric(name: str, **bounds: float | None) -> MetricThreshold:
    """A metric by short name (see ``METRIC_NAMES``) with optional bounds."""
    return MetricThreshold(name=name, **bounds)


def mse_metric(**bounds: float | None) -> MetricThreshold:
    """Mean squared error (regression); lower is better."""
    return metric("mse", **bounds)


def mae_metric(**bounds: float | None) -> MetricThreshold:
    """Mean absolute error (regression); lower is better."""
    return metric("mae", **bounds)


def rmse_metric(**bounds: float | None) -> MetricThreshold:
    """Root mean squared error (regression); lower is better."""
    return metric("rmse", **bounds)


def accuracy_metric(**bounds: float | None) -> MetricThreshold:
    """Accuracy; binary or sparse categorical by task."""
    return metric("accuracy", **bounds)


def auc_metric(**bounds: float | None) -> MetricThreshold:
    """Area under the ROC curve (binary classification)."""
    return metric("auc", **bounds)


def create_metric_spec(metrics: list[MetricThreshold]) -> MetricSpec:
    """Collects metric thresholds into the spec a model config takes."""
    return MetricSpec(metrics=tuple(metrics))
