"""The eval config: metric specs become TFMA thresholds with the right directions and signs."""

import pytest
import tensorflow_model_analysis as tfma

from pipelines.config import accuracy_metric, auc_metric, mse_metric
from pipelines.config.registry import load_config
from pipelines.pipeline.eval_config import build_eval_config, metric_threshold


def test_mse_upper_bound_and_change_is_lower_is_better():
    threshold = metric_threshold(mse_metric(upper_bound=25, absolute_change=1))
    assert threshold.value_threshold.upper_bound.value == 25
    assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert threshold.change_threshold.absolute.value == 1  # candidate - baseline <= 1


def test_accuracy_change_is_higher_is_better_with_negative_limit():
    threshold = metric_threshold(accuracy_metric(lower_bound=0.6, absolute_change=0.02))
    assert threshold.value_threshold.lower_bound.value == 0.6
    assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert threshold.change_threshold.absolute.value == -0.02  # candidate - baseline >= -0.02


def test_unbounded_metric_has_no_threshold():
    assert metric_threshold(auc_metric()) is None


def test_eval_config_of_basic_template():
    config = build_eval_config(load_config("basic_template"))
    assert config.model_specs[0].label_key == "label"
    assert config.model_specs[0].signature_name == "serving_tf_example"
    names = [m.class_name for m in config.metrics_specs[0].metrics]
    assert names == ["ExampleCount", "MeanSquaredError", "Accuracy"]
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["categorical_feature"]]


def test_eval_config_of_taxi_tips_matches_stock_example():
    config = build_eval_config(load_config("taxi_tips"))
    accuracy = config.metrics_specs[0].metrics[1]
    assert accuracy.class_name == "BinaryAccuracy"
    (gate,) = accuracy.per_slice_thresholds
    assert list(gate.slicing_specs) == [tfma.SlicingSpec()]  # the overall slice only
    assert gate.threshold.value_threshold.lower_bound.value == 0.6
    assert gate.threshold.change_threshold.absolute.value == pytest.approx(-1e-10)
