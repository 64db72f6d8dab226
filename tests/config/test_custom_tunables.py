"""A model folder's own build_keras_model tunes the settings its model.py declares."""

import pytest

from pipelines.config import ConfigError, load_config
from pipelines.config.tuning import apply_hyperparameters, current_values
from tests.support.custom_model import NAME, write_custom_model


def load_error(models_package, **changes) -> str:
    write_custom_model(models_package, **changes)
    with pytest.raises(ConfigError) as err:
        load_config(NAME)
    return str(err.value)


def test_declared_settings_tune_and_apply_to_model_args(models_package):
    write_custom_model(models_package)
    config = load_config(NAME)
    assert config.model_args == {"width": 1, "l2": 0.9}
    assert current_values(config, config.tuning.search_space) == {"width": 1, "l2": 0.9}
    tuned = apply_hyperparameters(config, {"width": 16, "l2": 0.005})
    assert tuned.model_args == {"width": 16, "l2": 0.005}


def test_a_candidate_the_declared_type_refuses_is_named(models_package):
    message = load_error(models_package, space='{"width": Choice([8, 100])}')
    assert ("model 'mymodel': tuning.search_space['width']: Choice([8, 100]): value 100 is "
            "not valid for model.py's TUNABLES['width']: Input should be less than or equal "
            "to 64") in message


def test_a_range_over_a_whole_number_setting_is_refused(models_package):
    message = load_error(models_package, space='{"width": Uniform(2, 9)}')
    assert "tuning.search_space['width']: Uniform(2, 9): value 5.5 is not valid" in message
    assert "fractional part" in message


def test_the_configs_own_value_is_checked_too(models_package):
    message = load_error(models_package, model_args='{"width": 1, "l2": 2.0}')
    assert "model_args['l2']: value 2.0 is not valid for model.py's TUNABLES['l2']" in message


def test_an_undeclared_setting_suggests_the_declared_ones(models_package):
    message = load_error(models_package, model_args='{"width": 1, "l2": 0.9, "widht": 3}',
                         space='{"width": Choice([8])}')
    assert "model_args setting 'widht' is not allowed (did you mean \"width\"?); allowed: l2, " \
           "width (model.py's TUNABLES declares them)" in message
    message = load_error(models_package, tunables=None)
    assert "model_args setting 'width' is not allowed; allowed: (none)" in message


def test_model_args_need_a_model_py(models_package):
    message = load_error(models_package, with_model=False)
    assert "model_args ['l2', 'width'] are settings of a model.py's own build_keras_model, " \
           "and the folder has no model.py" in message


def test_a_tunable_the_config_gives_no_value_says_how_to_declare_it(models_package):
    message = load_error(models_package, space='{"depth": Choice([1, 2])}')
    assert "tuning.search_space tunable 'depth' is not allowed" in message
    assert "give it a value in model_args and declare it in model.py's TUNABLES" in message


@pytest.mark.parametrize(("model_args", "text"), [
    ('{"learning_rate": 0.1}', "'learning_rate' is a prebuilt model's setting"),
    ('{"not a name": 1}', "'not a name' is not a name"),
    ('{"width": object()}', "is not a JSON value"),
])
def test_model_args_themselves_are_checked(models_package, model_args, text):
    message = load_error(models_package, model_args=model_args, space='{"l2": Choice([0.1])}')
    assert text in message
