"""The canary's rules, one definition for the local twin and Vertex AI.

- :class:`CanaryPolicy`: the stack's ``canary:`` settings (``CanarySettings``,
  the only defaults) and how often to analyse;
- :func:`window_problem`: whether a candidate passes one analysis window;
- :func:`first_traffic_split`: where a just-pushed version starts on its endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.canary.endpoint import WindowMetrics
from pipelines.config.errors import FullcycleError
from pipelines.stack.config import CanarySettings

NEW_MODEL = "0"  # a traffic split's name for the model being deployed, as on Vertex AI


class RolloutUnderWayError(FullcycleError):
    """The endpoint already serves a stable model and a candidate."""


@dataclass(frozen=True)
class CanaryPolicy:
    """The stack's canary settings, analysed every ``interval_seconds``."""

    settings: CanarySettings
    interval_seconds: float

    @classmethod
    def of(cls, settings: CanarySettings, interval_seconds: float | None = None,
           min_samples: int | None = None) -> CanaryPolicy:
        """The policy of ``settings``; locally the interval (seconds rather than the cloud's
        whole minutes) and the samples needed per window may be overridden."""
        if min_samples is not None:
            settings = CanarySettings.model_validate(
                {**settings.model_dump(), "min_samples": min_samples})
        return cls(settings, settings.interval_minutes * 60 if interval_seconds is None
                   else interval_seconds)

    @property
    def steps(self) -> tuple[int, ...]:
        return self.settings.steps


def prediction_shift(candidate: WindowMetrics, stable: WindowMetrics) -> float:
    """How far the candidate's mean prediction moved, in units of the stable model's spread.

    The spread is the stable predictions' standard deviation, floored at 10 % of
    their mean's magnitude so that near-constant predictors compare relatively.
    Same model, different requests: about 0.2 at 30 candidate samples.
    """
    scale = max(stable.std_prediction or 0.0, 0.1 * abs(stable.mean_prediction), 1e-9)
    return abs(candidate.mean_prediction - stable.mean_prediction) / scale


def window_problem(settings: CanarySettings, candidate: WindowMetrics,
                   stable: WindowMetrics) -> str | None:
    """None if the candidate passes this window, else why not (too few samples fail too)."""
    s = settings
    if candidate.samples < s.min_samples:
        return f"too few samples: {candidate.samples} < {s.min_samples}"
    if candidate.error_rate > s.max_error_rate:
        return f"error rate {candidate.error_rate:.3f} > {s.max_error_rate}"
    if candidate.latency_p99_ms > s.max_latency_p99_ms:
        return f"latency p99 {candidate.latency_p99_ms:.1f} ms > {s.max_latency_p99_ms}"
    if candidate.mean_prediction is not None and stable.mean_prediction is not None:
        shift = prediction_shift(candidate, stable)
        if shift > s.max_prediction_shift:
            return f"prediction shift {shift:.3f} > {s.max_prediction_shift}"
    if s.max_mse_increase is not None and candidate.mse is not None \
            and stable.mse is not None and candidate.mse - stable.mse > s.max_mse_increase:
        return (f"labelled mse {candidate.mse:.3f} vs stable {stable.mse:.3f} "
                f"(allowed increase {s.max_mse_increase})")
    return None


def first_traffic_split(deployed: Sequence[str], first_weight: int) -> dict[str, int]:
    """The split that deploys a new version (``"0"``) next to the ``deployed`` ids.

    On an empty endpoint the first version takes 100 %; next to one stable model a
    new version starts at ``first_weight`` (the canary's first step) for the
    controller to take over. Next to two (a rollout under way) it is refused.
    """
    if len(deployed) > 1:
        raise RolloutUnderWayError(f"{len(deployed)} models are deployed: a rollout is under "
                                   "way; the new version waits for it to finish")
    if not deployed:
        return {NEW_MODEL: 100}
    return {NEW_MODEL: first_weight, deployed[0]: 100 - first_weight}
