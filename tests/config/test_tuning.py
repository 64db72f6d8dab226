"""The tuning search space is checked before anything runs, candidate by candidate."""

import pytest

from pipelines.config import Choice, ConfigError, LogUniform, Tuning, Uniform, load_config
from pipelines.config.tuning import (
    apply_hyperparameters,
    current_values,
    decode_values,
    encoded_choices,
)
from tests.config.test_model_config import config_source, load_error

SPACE = ('tuning=Tuning(search_space={"learning_rate": LogUniform(1e-4, 1e-1), '
         '"dnn_hidden_units": Choice([[16, 8], [32, 16]]), {more}}, {options}),')


def tuned_source(more: str = '"dropout": Uniform(0, 0.5)', options: str = "max_trials=3") -> str:
    source = config_source(extra=SPACE.replace("{more}", more).replace("{options}", options))
    return source.replace("from pipelines.config import ",
                          "from pipelines.config import Choice, LogUniform, Tuning, Uniform, ")


def test_types_are_exported_and_the_template_tunes():
    tuning = load_config("basic_template").tuning
    assert set(tuning.search_space) == {"learning_rate", "dnn_hidden_units", "train_batch_size"}
    assert isinstance(tuning.search_space["learning_rate"], LogUniform)
    assert tuning.objective == "val_loss" and tuning.algorithm == "random"


def test_a_good_search_space_loads(models_package):
    models_package("mymodel", tuned_source())
    tuning = load_config("mymodel").tuning
    assert tuning.search_space["dnn_hidden_units"] == Choice([[16, 8], [32, 16]])
    assert tuning.max_trials == 3


def test_unknown_tunable_suggests_the_closest(models_package):
    message = load_error(models_package, tuned_source('"learnin_rate": Uniform(0.1, 0.2)'))
    assert "tunable 'learnin_rate' is not allowed" in message
    assert 'did you mean "learning_rate"' in message and "train_batch_size" in message


def test_each_candidate_goes_through_the_config_validation(models_package):
    message = load_error(models_package, tuned_source('"dropout": Uniform(0, 1.0)'))
    assert "tuning.search_space['dropout']: Uniform(0, 1): value 1.0 is not valid" in message
    assert "training_args.dropout" in message and "less than 1" in message
    message = load_error(models_package, tuned_source('"train_batch_size": Choice([32, 0])'))
    assert "tuning.search_space['train_batch_size']" in message and "value 0" in message


def test_ranges_only_for_continuous_tunables(models_package):
    message = load_error(models_package, tuned_source('"train_batch_size": Uniform(16, 64)'))
    assert "train_batch_size takes Choice([...])" in message


def test_objective_is_val_loss_or_a_metric_of_the_spec(models_package):
    message = load_error(models_package, tuned_source(options='objective="auc"'))
    assert "tuning.objective 'auc' is not allowed; allowed: mse, val_loss" in message
    models_package("mymodel", tuned_source(options='objective="mse"'))
    assert load_config("mymodel").tuning.objective == "mse"


@pytest.mark.parametrize(("make", "text"), [
    (lambda: Uniform(0.5, 0.5), "low 0.5 must be below high 0.5"),
    (lambda: LogUniform(0, 0.1), "low 0.0 must be above 0"),
    (lambda: Choice([]), "at least 1 item"),
    (lambda: Tuning(search_space={}), "at least 1 item"),
])
def test_malformed_parameters_are_refused(make, text):
    with pytest.raises(ValueError, match=text):
        make()


def test_values_apply_to_the_fields_they_name():
    config = load_config("basic_template")
    tuned = apply_hyperparameters(config, {"learning_rate": 0.003, "dnn_hidden_units": [8, 4],
                                           "dropout": 0.2, "train_batch_size": 32})
    assert tuned.training_args.optimizer_kwargs == {"learning_rate": 0.003}
    assert tuned.training_args.dnn_hidden_units == (8, 4)
    assert tuned.training_args.dropout == 0.2 and tuned.train_batch_size == 32
    assert tuned.tuning == config.tuning and tuned.training_args.optimizer == "Adam"
    with pytest.raises(ConfigError, match="hyperparameter 'units' is not allowed"):
        apply_hyperparameters(config, {"units": 3})
    with pytest.raises(ConfigError, match="dropout=2.0 do not make a valid config"):
        apply_hyperparameters(config, {"dropout": 2.0})


def test_list_choices_reach_keras_tuner_as_text_and_come_back_as_lists():
    tuning = load_config("basic_template").tuning
    units = tuning.search_space["dnn_hidden_units"]
    assert encoded_choices(units) == ["[6, 3]", "[16, 8]", "[32, 16]"]
    assert encoded_choices(tuning.search_space["train_batch_size"]) == [64, 128, 256, 512]
    assert decode_values(tuning, {"dnn_hidden_units": "[32, 16]", "train_batch_size": 64}) == \
        {"dnn_hidden_units": [32, 16], "train_batch_size": 64}


def test_the_configs_own_values_are_the_bar_to_beat():
    config = load_config("basic_template")
    assert current_values(config, [*config.tuning.search_space, "dropout"]) == {
        "learning_rate": 0.01, "dnn_hidden_units": [6, 3], "train_batch_size": 128,
        "dropout": 0.0}
    plain = apply_hyperparameters(config, {}).model_copy(
        update={"training_args": config.training_args.model_copy(
            update={"optimizer_kwargs": {}, "layer_activation": None})})
    assert current_values(plain, ["learning_rate", "layer_activation"]) == \
        {"layer_activation": None}  # the optimizer's default rate is not the config's


def test_folds_need_as_many_of_trains_hash_buckets(models_package):
    source = tuned_source(options="folds=4").replace(
        'split_key="id"', 'split_key="id", splits={"train": 3, "eval": 97}')
    assert 'splits={"train": 3' in source
    message = load_error(models_package, source)
    assert "tuning.folds 4: the train split has 3 % of the hash buckets, too few to cut into " \
           "4 folds; use at most 3" in message
    message = load_error(models_package, tuned_source(options="folds=2"))
    assert "tuning.folds" in message and "greater than or equal to 3" in message
