"""Slice columns: floating-point ones judged by their count of values; values named as read."""

import numpy as np
import pytest

from pipelines.config import Fairness, fairness_metric, load_config
from pipelines.config.errors import FullcycleError
from pipelines.config.slices import MAX_SLICE_VALUES, check_slice_values, slice_label
from pipelines.pipeline.fairness import slice_value


def test_values_are_named_as_they_are():
    assert [slice_label(v) for v in (1.0, 2.0, np.float32(1.0))] == ["1", "2", "1"]
    assert slice_label(np.float32(0.1)) == "0.1"  # not 0.10000000149011612
    assert slice_label(1.5) == "1.5" and slice_label(1234567.0) == "1234567"  # not 1.23457e+06
    assert slice_label(b"amber") == "amber" and slice_label(7) == "7"
    assert slice_label(float("nan")) == "(missing)"
    assert slice_value(np.array([2.0], np.float32)) == "2"


def test_a_float_column_with_many_values_is_refused_with_count_and_limit():
    config = load_config("basic_template").model_copy(update={
        "eval_slices": ("income",),
        "fairness": Fairness(slice_by=["income"], metrics=[fairness_metric("mae", max_gap=1)])})
    for sql_type in ("INTEGER", "VARCHAR", "BOOLEAN"):
        check_slice_values(config, "income", sql_type, 10_000)  # kinds that never count
    check_slice_values(config, "income", "DOUBLE", MAX_SLICE_VALUES)
    with pytest.raises(FullcycleError) as err:
        check_slice_values(config, "income", "DECIMAL(18,3)", 51)
    assert str(err.value).startswith(
        "model 'basic_template': eval_slices and fairness.slice_by column 'income' is "
        "DECIMAL(18,3) with 51 distinct values in the source; a floating-point slice column "
        "may have at most 50")
