"""Names of transformed features: one rule shared by Transform, Trainer and serving."""

from __future__ import annotations

_SUFFIX = "_xf"


def transformed_name(key: str) -> str:
    """The transformed name of feature or label ``key`` (``fare`` -> ``fare_xf``)."""
    return f"{key}{_SUFFIX}"


def bucketized_name(key: str) -> str:
    """The transformed name of the bucketized view of a float column."""
    return f"{key}_bucket{_SUFFIX}"

