"""Small numeric helpers shared by the endpoint, the infra check and the serving benchmark."""

from __future__ import annotations

import math

import numpy as np


def percentile(values, q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of a non-empty collection."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def has_nan(outputs: np.ndarray) -> bool:
    """Whether a model's output array holds a NaN anywhere."""
    return outputs.dtype.kind == "f" and bool(np.isnan(outputs).any())
