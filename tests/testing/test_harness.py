"""The unit-test framework itself: row comparison, inferred specs, rows drawn from a config."""

import pytest
import tensorflow as tf

from pipelines.config import load_config
from pipelines.testing import assert_rows_close, example_rows, feature_spec_for_rows


def test_assert_rows_close_reports_differences():
    with pytest.raises(AssertionError, match=r"row 0: x = 1.0, expected 2.0"):
        assert_rows_close([{"x": 1.0}], [{"x": 2.0}])
    with pytest.raises(AssertionError, match="no output 'z'"):
        assert_rows_close([{"x": 1.0}], [{"z": 1.0}])


def test_feature_spec_for_rows_infers_types_and_missing_values():
    spec = feature_spec_for_rows([{"x": 1.0, "n": 1, "s": "a", "seq": [1.0, 2.0]},
                                  {"x": None, "n": 2, "s": "b", "seq": [3.0]}])
    assert spec["n"] == tf.io.FixedLenFeature([], tf.int64)
    assert spec["s"] == tf.io.FixedLenFeature([], tf.string)
    assert spec["x"] == tf.io.VarLenFeature(tf.float32)  # a None makes it a VarLenFeature
    assert spec["seq"] == tf.io.VarLenFeature(tf.float32)
    with pytest.raises(ValueError, match="column 'e' has no values"):
        feature_spec_for_rows([{"e": None}])


@pytest.mark.parametrize("model", ["basic_template", "taxi_tips"])
def test_example_rows_fit_the_config(model):
    config = load_config(model)
    rows = example_rows(config, n=6, seed=1)
    assert len(rows) == 6 and rows == example_rows(config, n=6, seed=1)  # deterministic
    for row in rows:
        assert set(row) == {*config.raw_feature_keys, config.label_key}
        for key, count in config.categorical_int_features.items():
            assert 0 <= row[key] < count
        for key in config.vocab_features:
            assert isinstance(row[key], str)
    if config.task != "regression":  # every class present
        assert {row[config.label_key] for row in rows} == set(range(config.num_classes or 2))
