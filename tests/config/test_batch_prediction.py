"""The batch_prediction section: defaults that score without one, and clear errors."""

import pytest

from pipelines.config import BatchPrediction, load_config
from tests.config.test_model_config import config_source, load_error


def test_without_a_section_a_model_scores_its_source_by_split_key():
    config = load_config("basic_template")
    assert config.batch_prediction == BatchPrediction()
    assert config.score_keys == ("id",)
    assert config.score_destination == "basic_template_predictions"


def test_keys_destination_and_columns(models_package):
    models_package("mymodel", config_source(extra='batch_prediction={"table": "new_rows", '
                                                  '"keys": "row_id", "destination": "scores",'
                                                  ' "columns": ["region"]},'))
    config = load_config("mymodel")
    assert config.score_keys == ("row_id",)
    assert config.score_destination == "scores"
    assert config.batch_prediction.columns == ("region",)


@pytest.mark.parametrize(("section", "expected"), [
    ('{"kes": ["id"]}', "batch_prediction: unknown field 'kes' (did you mean \"keys\"?); "
                        "allowed: table, query, keys, destination, columns"),
    ('{"keys": ["label"]}', "batch_prediction.keys names the label 'label'"),
    ('{"destination": "my-scores"}', "destination table 'my-scores' is not a valid name"),
    ('{"table": "a", "query": "SELECT 1"}', "give at most one of 'table' or 'query'"),
    ('{"columns": ["prediction"]}', "column 'prediction' clashes with a column fullcycle "
                                    "writes"),
    ('{"keys": ["id"], "columns": ["id"]}', "column(s) id listed twice"),
    ('{"destination": "t"}', "batch_prediction.destination 't' is the training table"),
    ('{"keys": []}', "keys needs at least one column"),
])
def test_bad_sections_are_named(models_package, section, expected):
    message = load_error(models_package, config_source(extra=f"batch_prediction={section},"))
    assert "model 'mymodel'" in message
    assert expected in message


def test_typo_when_built_on_its_own_line(models_package):
    source = config_source(extra='batch_prediction=BatchPrediction(destnation="s"),').replace(
        "from pipelines.config import ", "from pipelines.config import BatchPrediction, ")
    message = load_error(models_package, source)
    assert "batch_prediction: unknown field 'destnation' (did you mean \"destination\"?)" \
        in message
