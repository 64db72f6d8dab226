"""Bad model configs are refused before anything runs, with a message that helps."""

import pytest

from pipelines.config import ConfigError, ModelConfig, list_models, load_config
from pipelines.config.registry import with_overrides

GOOD = '''
from pipelines.config import DataSource, ModelConfig, TrainingArgs, create_metric_spec, mse_metric
CONFIG = ModelConfig(
    label_key="label",
    dense_float_features=["f1", "f2"],
    categorical_int_features={"c": 3},
    bucket_features={"f1": 4},
    vocab_features={"v": {"top_k": 5, "num_oov_buckets": 2}},
    num_epochs=2,
    training_args=TrainingArgs(dnn_hidden_units=[4]),
    eval_metric_spec=create_metric_spec([mse_metric(upper_bound=10)]),
    source=DataSource(table="t", split_key="id"),
    {extra}
)
'''


def config_source(**replace: str) -> str:
    source = GOOD.replace("{extra}", replace.pop("extra", ""))
    for old, new in replace.items():
        assert old in source, old
        source = source.replace(old, new)
    return source


def load_error(models_package, source: str) -> str:
    models_package("mymodel", source)
    with pytest.raises(ConfigError) as err:
        load_config("mymodel")
    return str(err.value)


def test_sample_models_are_valid():
    assert list_models() == ["basic_template", "taxi_tips"]
    for name in list_models():
        assert load_config(name).name == name


def test_good_config_loads_with_folder_name(models_package):
    models_package("mymodel", config_source())
    config = load_config("mymodel")
    assert config.name == "mymodel"
    assert config.raw_feature_keys == ("f1", "f2", "c", "v")


def test_unknown_model_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown model 'basic_templat' \(did you mean "
                                          r"\"basic_template\"\?\); known: basic_template, "):
        load_config("basic_templat")


def test_typo_in_field_name_suggests_field(models_package):
    message = load_error(models_package, config_source(**{"label_key=": "lable_key="}))
    assert "model 'mymodel'" in message
    assert "lable_key: unknown field (did you mean \"label_key\"?)" in message


def test_typo_in_a_nested_field_suggests_the_field(models_package):
    # A nested part written as its class (the original's style) fails under its class name.
    message = load_error(models_package, config_source(
        **{"TrainingArgs(dnn_hidden_units=[4])": "TrainingArgs(dnn_hiden_units=[4])"}))
    assert "training_args.dnn_hiden_units: unknown field (did you mean " \
           "\"dnn_hidden_units\"?); allowed: dnn_hidden_units, optimizer" in message
    # ... and as a dict, through dict values and tuples, at any depth.
    message = load_error(models_package, config_source(
        **{'"num_oov_buckets": 2': '"num_oov_bucket": 2'},
        extra='data_validation={"features": {"f1": {"drfit": {"threshold": 0.2}}}},'
              'infra_validation={"max_latency": 9},'))
    assert 'vocab_features.v.num_oov_bucket: unknown field (did you mean "num_oov_buckets"?)' \
        in message
    assert 'data_validation.features.f1.drfit: unknown field (did you mean "drift"?)' in message
    assert 'infra_validation.max_latency: unknown field (did you mean "max_latency_ms"?)' \
        in message
    message = load_error(models_package, fairness_source(
        metric='FairnessMetric(name="mae", max_gapp=1.0)').replace(
        "import Fairness,", "import Fairness, FairnessMetric,"))
    assert 'fairness.metrics.max_gapp: unknown field (did you mean "max_gap"?)' in message


def test_every_nested_section_is_found_without_a_list():
    from pydantic import BaseModel

    from pipelines.config.field_paths import fields_at, nested_models

    class Inner(BaseModel):
        trials: int = 1

    class Outer(BaseModel):
        name: str = ""
        tuning: Inner | None = None
        grid: dict[str, tuple[Inner, ...]] = {}

    assert nested_models(Outer)["Inner"] == (Inner, "")  # two places share no prefix
    assert fields_at(Outer, ("tuning", "trails")) == ["trials"]
    assert fields_at(Outer, ("grid", "lr", 0, "trails")) == ["trials"]
    assert fields_at(Outer, ("name", "x")) == []


def test_regression_accuracy_is_marked_and_takes_no_bound(models_package):
    with_accuracy = config_source(**{"mse_metric(upper_bound=10)":
                                     "mse_metric(upper_bound=10), accuracy_metric()"})
    with_accuracy = with_accuracy.replace("import DataSource,",
                                          "import DataSource, accuracy_metric,")
    models_package("mymodel", with_accuracy)
    (_, accuracy) = load_config("mymodel").eval_metric_spec.metrics
    assert accuracy.note("regression") == \
        "not meaningful for a regression label (exact match only)"
    assert accuracy.note("binary_classification") is None
    for bound in ("lower_bound=0.5", "absolute_change=0.1"):
        message = load_error(models_package, with_accuracy.replace(
            "accuracy_metric()", f"accuracy_metric({bound})"))
        assert "metric 'accuracy' cannot take a bound for task 'regression': not meaningful " \
               "for a regression label (exact match only); keep it unbounded" in message


def test_unknown_feature_in_imputation(models_package):
    message = load_error(models_package, config_source(extra='imputation={"ff1": "mean"},'))
    assert "config: imputation names unknown feature 'ff1'" in message
    assert 'did you mean "f1"' in message and "declared features: f1, f2, c, v" in message


def test_feature_in_two_groups(models_package):
    message = load_error(models_package, config_source(**{'{"c": 3}': '{"f2": 3}'}))
    assert "feature 'f2' is in both dense_float_features and categorical_int_features" in message


def test_bucket_feature_may_repeat_a_dense_feature(models_package):
    models_package("mymodel", config_source())
    assert load_config("mymodel").bucket_features == {"f1": 4}


def test_label_used_as_feature(models_package):
    message = load_error(models_package, config_source(**{'["f1", "f2"]': '["f1", "label"]'}))
    assert "label 'label' is also listed in dense_float_features" in message


def test_negative_bucket_count(models_package):
    message = load_error(models_package, config_source(**{'{"f1": 4}': '{"f1": -3}'}))
    assert "bucket_features.f1" in message and "greater than 0" in message and "-3" in message


def test_splits_must_sum_to_100(models_package):
    message = load_error(models_package, config_source(
        **{'split_key="id"': 'split_key="id", splits={"train": 70, "eval": 20}'}))
    assert "source: split percentages {'train': 70, 'eval': 20} sum to 90, not 100" in message


def test_unknown_metric_suggests_closest(models_package):
    message = load_error(models_package, config_source(
        **{"mse_metric(upper_bound=10)": 'metric("acuracy")'}).replace(
        "create_metric_spec, mse_metric", "create_metric_spec, metric"))
    assert "model 'mymodel'" in message
    assert "metric 'acuracy' is not allowed (did you mean \"accuracy\"?)" in message
    assert "allowed: accuracy, auc, mae, mse, precision, recall, rmse" in message


def test_metric_must_fit_task(models_package):
    message = load_error(models_package, config_source(
        **{"mse_metric(upper_bound=10)": "auc_metric()"}).replace(
        "create_metric_spec, mse_metric", "create_metric_spec, auc_metric"))
    assert "metric 'auc' does not apply to task 'regression'" in message


def test_unknown_optimizer_and_activation(models_package):
    message = load_error(models_package, config_source(
        **{"dnn_hidden_units=[4]": 'dnn_hidden_units=[4], optimizer="Adamm", '
                                   'layer_activation="rellu"'}))
    assert "optimizer 'Adamm' is not allowed (did you mean \"Adam\"?)" in message
    assert "layer_activation 'rellu' is not allowed (did you mean \"relu\"?)" in message


def test_epochs_xor_steps(models_package):
    message = load_error(models_package, config_source(**{"num_epochs=2": "num_epochs=2, "
                                                                          "train_steps=5"}))
    assert "exactly one of num_epochs or train_steps" in message


def test_config_py_without_config(models_package):
    models_package("mymodel", "X = 1\n")
    with pytest.raises(ConfigError, match="config.py must define CONFIG = ModelConfig"):
        load_config("mymodel")


def test_overrides_revalidate():
    config = with_overrides(load_config("basic_template"), train_steps=7)
    assert (config.train_steps, config.num_epochs) == (7, None)
    with pytest.raises(ConfigError, match="train_batch_size"):
        with_overrides(config, train_batch_size=0)


def test_optimizer_class_is_accepted_by_name():
    class Adam:  # stands for tf.keras.optimizers.Adam: only the name is used
        pass

    config = ModelConfig(label_key="y", dense_float_features=["x"], num_epochs=1,
                         training_args={"optimizer": Adam}, source={"table": "t", "split_key": "x"})
    assert config.training_args.optimizer == "Adam"


def test_data_validation_names_only_checked_features(models_package):
    message = load_error(models_package, config_source(
        extra='data_validation={"features": {"ff1": {"drift": {"threshold": 0.2}}}},'))
    assert "data_validation.features names unknown feature 'ff1'" in message
    assert 'did you mean "f1"' in message
    message = load_error(models_package, config_source(
        extra='data_validation={"numeric_drift": {"threshold": 0.2, "action": "stop"}},'))
    assert "data_validation.numeric_drift.action" in message and "'block' or 'warn'" in message


FAIR = ('fairness=Fairness(slice_by={slice_by}, metrics=[{metric}]),')


def fairness_source(slice_by='["region"]', metric='fairness_metric("mae", max_gap=1.0)') -> str:
    return config_source(extra=FAIR.format(slice_by=slice_by, metric=metric)).replace(
        "from pipelines.config import",
        "from pipelines.config import Fairness, fairness_metric,")


def test_fairness_slices_by_any_source_column(models_package):
    models_package("mymodel", fairness_source())
    config = load_config("mymodel")
    assert config.fairness.slice_by == ("region",)
    assert config.fairness.min_slice_size == 30 and config.fairness.decision_threshold == 0.5
    assert config.slice_columns == ("region",)
    assert "region" not in config.raw_feature_keys  # sliced by, never fed to the model


def test_fairness_metric_must_fit_task(models_package):
    message = load_error(models_package, fairness_source(
        metric='fairness_metric("false_positive_rate", max_gap=0.1)'))
    assert "fairness metric 'false_positive_rate' does not apply to task 'regression'" in message
    assert "allowed: mse, mae" in message


def test_fairness_metric_unknown_name_and_no_bound(models_package):
    message = load_error(models_package, fairness_source(
        metric='fairness_metric("false_positiv_rate", max_gap=0.1)'))
    assert "fairness metric 'false_positiv_rate' is not allowed (did you mean " \
           "\"false_positive_rate\"?)" in message
    message = load_error(models_package, fairness_source(metric='fairness_metric("mae")'))
    assert "fairness metric 'mae' has no bound; give max_gap, lower_bound and/or " \
           "upper_bound" in message


def test_fairness_slice_columns_are_checked(models_package):
    message = load_error(models_package, fairness_source(slice_by='["label"]'))
    assert "fairness.slice_by names the label 'label'" in message
    # A float column's values decide (pipelines.config.slices, on the source), not its kind.
    models_package("floats", fairness_source(slice_by='["f2"]'))
    assert load_config("floats").slice_columns == ("f2",)
    message = load_error(models_package, fairness_source(slice_by='["my-col"]'))
    assert "fairness.slice_by column 'my-col' is not a valid column name" in message
    message = load_error(models_package, fairness_source(slice_by='[]'))
    assert "fairness.slice_by: Tuple should have at least 1 item" in message


def test_eval_slices_may_name_a_source_column_that_is_not_a_feature(models_package):
    models_package("mymodel", config_source(extra='eval_slices=["region", "c"],'))
    assert load_config("mymodel").slice_columns == ("region", "c")
