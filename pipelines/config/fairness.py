"""Fairness gates: per-group metrics a candidate must meet to be blessed.

``Fairness(slice_by=["sex"], metrics=[fairness_metric("false_positive_rate", max_gap=0.1)])``
means: for each value of ``sex`` with at least ``min_slice_size`` eval examples,
the candidate's false positive rate on that group may differ from its overall
false positive rate by at most 0.1; otherwise it is not blessed. A slice column
may be any column of the model's source, feature or not: it travels with the
examples to the Evaluator, never into the model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from pipelines.config.errors import not_allowed
from pipelines.config.metrics import check_bounds

# Our metric names -> the tasks they are defined for.
FAIRNESS_METRICS: dict[str, tuple[str, ...]] = {
    "false_positive_rate": ("binary_classification",),
    "true_positive_rate": ("binary_classification",),
    "false_negative_rate": ("binary_classification",),
    "precision": ("binary_classification",),
    "recall": ("binary_classification",),
    "accuracy": ("binary_classification", "multiclass_classification"),
    "auc": ("binary_classification",),
    "positive_prediction_rate": ("binary_classification",),
    "mse": ("regression",),
    "mae": ("regression",),
}


def fairness_metrics_for(task: str) -> tuple[str, ...]:
    """The fairness metrics defined for ``task``."""
    return tuple(name for name, tasks in FAIRNESS_METRICS.items() if task in tasks)


class FairnessMetric(BaseModel):
    """One metric checked on every large-enough slice: value bounds and gap to overall."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="One of FAIRNESS_METRICS.")
    max_gap: float | None = Field(
        None, ge=0, description="Largest allowed |slice value - overall value|.")
    lower_bound: float | None = Field(None, description="Each slice's value must be >= this.")
    upper_bound: float | None = Field(None, description="Each slice's value must be <= this.")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in FAIRNESS_METRICS:
            raise ValueError(not_allowed("fairness metric", name, FAIRNESS_METRICS))
        return name

    @model_validator(mode="after")
    def _bounded(self) -> FairnessMetric:
        if self.max_gap is None and self.lower_bound is None and self.upper_bound is None:
            raise ValueError(f"fairness metric {self.name!r} has no bound; give max_gap, "
                             "lower_bound and/or upper_bound")
        check_bounds(f"fairness metric {self.name!r}", self.lower_bound, self.upper_bound)
        return self


class Fairness(BaseModel):
    """Per-slice gates, judged by the Evaluator on the eval split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slice_by: tuple[str, ...] = Field(
        min_length=1, description="Source columns whose values are the groups compared.")
    metrics: tuple[FairnessMetric, ...] = Field(min_length=1)
    decision_threshold: float = Field(
        0.5, gt=0, lt=1, description="Binary tasks: a prediction above it counts as positive.")
    min_slice_size: PositiveInt = Field(
        30, description="Slices with fewer eval examples are reported, not gated.")

    @field_validator("slice_by", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique(self) -> Fairness:
        for what, names in (("slice_by column", list(self.slice_by)),
                            ("fairness metric", [m.name for m in self.metrics])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}(s) listed twice: {', '.join(dupes)}")
        return self


def fairness_metric(name: str, max_gap: float | None = None, lower_bound: float | None = None,
                    upper_bound: float | None = None) -> FairnessMetric:
    """A per-slice metric (see ``FAIRNESS_METRICS``) with at least one bound."""
    return FairnessMetric(name=name, max_gap=max_gap, lower_bound=lower_bound,
                          upper_bound=upper_bound)
