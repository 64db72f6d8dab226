"""What the canary needs of an endpoint, local or Vertex AI, and what it reads from one.

:class:`EndpointOps` is implemented by the local endpoint (in process and over
HTTP) and by the Vertex AI endpoint; :class:`WindowMetrics` is what one
deployed model served over an analysis window, however it was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from pipelines.config.errors import FullcycleError


class EndpointError(FullcycleError):
    """A request Vertex AI would refuse (400 / 404)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WindowMetrics:
    """What one deployed model served over an analysis window."""

    samples: int
    error_rate: float
    latency_p99_ms: float
    mean_prediction: float | None
    std_prediction: float | None
    mse: float | None  # against fed-back labels, when there are any

    @classmethod
    def of(cls, samples: int, errors: int, latency_p99_ms: float, values: list[float],
           squared_errors: list[float]) -> WindowMetrics:
        """Metrics of ``samples`` requests: ``values`` holds each answered request's first
        prediction, ``squared_errors`` those against a fed-back label."""
        if not samples:
            return cls(0, 0.0, 0.0, None, None, None)
        mean = sum(values) / len(values) if values else None
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if values else None
        return cls(samples, errors / samples, latency_p99_ms, mean, std,
                   sum(squared_errors) / len(squared_errors) if squared_errors else None)



def first_number(predictions) -> float | None:
    """The first number of a (nested) prediction; None for null or NaN."""
    while isinstance(predictions, list) and predictions:
        predictions = predictions[0]
    if isinstance(predictions, bool) or not isinstance(predictions, (int, float)):
        return None
    return None if predictions != predictions else predictions


class EndpointOps(Protocol):
    """What the controller needs of an endpoint: local, over HTTP, or Vertex AI."""

    def describe(self) -> dict: ...
    def deploy(self, model: str, split: dict[str, int]) -> str: ...
    def set_split(self, split: dict[str, int]) -> None: ...
    def undeploy(self, deployed_id: str) -> None: ...
    def window_metrics(self, deployed_id: str, since: float, until: float) -> WindowMetrics: ...
