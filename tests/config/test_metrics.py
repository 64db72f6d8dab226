"""Metric specs: bounds and change limits validated as the config is written."""

import pytest
from pydantic import ValidationError

from pipelines.config import create_metric_spec, mse_metric


def test_bounds_must_be_ordered_and_changes_non_negative():
    with pytest.raises(ValidationError, match="lower_bound 2.0 is above upper_bound 1.0"):
        mse_metric(lower_bound=2, upper_bound=1)
    with pytest.raises(ValidationError, match="absolute_change"):
        mse_metric(absolute_change=-1)
    with pytest.raises(ValidationError, match="listed twice"):
        create_metric_spec([mse_metric(), mse_metric()])
