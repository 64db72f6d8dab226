"""How a run's data is judged against the last blessed run's: checks, thresholds, actions.

Every check has a threshold and an action: ``block`` stops the run before
Transform (nothing is trained, pushed or deployed), ``warn`` only reports. The
defaults catch a null flood, a unit change, a flood of unseen values, a type
change and a tenfold change in the number of rows; ``features`` overrides the
missing-value and drift checks per feature.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Check(_Frozen):
    """One check: findings above ``threshold`` block the run or are only reported."""

    threshold: float = Field(ge=0)
    action: Literal["block", "warn"] = "block"


class FeatureChecks(_Frozen):
    """Per-feature overrides of the missing-value and drift checks."""

    missing_fraction: Check | None = None
    drift: Check | None = None


def _check(threshold: float, description: str):
    """A check field: blocking at ``threshold`` unless the config says otherwise."""
    return Field(default_factory=lambda: Check(threshold=threshold), description=description)


class DataValidation(_Frozen):
    """Checks of each run's data against the baseline (the last blessed run's data)."""

    missing_fraction: Check = _check(
        0.1, "Largest allowed rise of a feature's fraction of missing values.")
    numeric_drift: Check = _check(
        0.1, "Largest Jensen-Shannon divergence of a numeric feature's distribution.")
    categorical_drift: Check = _check(
        0.1, "Largest L-infinity distance of a categorical feature's value frequencies.")
    example_count: Check = _check(0.5, "Largest relative change of a split's number of examples.")
    type_and_domain: Check = _check(
        0.1, "Type and domain against the baseline schema; the threshold is the fraction of a "
             "categorical feature's values allowed outside its domain.")
    min_examples: int = Field(
        100, ge=1, description="Drift is measured on splits with at least this many examples "
                               "in both runs: on fewer, two samples of the same data differ "
                               "by about 0.1 by chance.")
    features: dict[str, FeatureChecks] = Field(default_factory=dict)

    def missing_check(self, feature: str) -> Check:
        own = self.features.get(feature)
        return own.missing_fraction if own and own.missing_fraction else self.missing_fraction

    def drift_check(self, feature: str, numeric: bool) -> Check:
        own = self.features.get(feature)
        if own and own.drift:
            return own.drift
        return self.numeric_drift if numeric else self.categorical_drift
