"""Feature kinds: one declaration each, and the transform's inputs derived from them."""

import inspect

from pipelines.config import ModelConfig, load_config
from pipelines.features.kinds import FEATURE_KINDS, TRANSFORM_ARGS, TRANSFORM_FIELDS
from pipelines.features.transform import features_transform
from pipelines.pipeline.factory import component_custom_config
from pipelines.trainer.builders import model_inputs


def test_every_feature_field_of_the_config_is_a_kind():
    fields = {name for name in ModelConfig.model_fields if name.endswith("_features")}
    assert fields == {kind.field for kind in FEATURE_KINDS}


def test_transform_arguments_are_exactly_what_features_transform_takes():
    params = set(inspect.signature(features_transform).parameters) - {"inputs"}
    assert set(TRANSFORM_ARGS.values()) == params
    assert TRANSFORM_FIELDS <= set(ModelConfig.model_fields)


def test_only_transform_fields_reach_transform():
    config = load_config("taxi_tips")
    overrides = {"train_steps": 5, "imputation": {"fare": "median"}}
    sent = component_custom_config(config, overrides, "code", TRANSFORM_FIELDS)
    assert sent["overrides"] == {"imputation": {"fare": "median"}}


def test_model_inputs_follow_the_kinds():
    config = load_config("basic_template")
    inputs = {i.name: (i.kind, i.width) for i in model_inputs(config)}
    assert inputs == {"numeric_feature1_xf": ("numeric", 1), "numeric_feature2_xf": ("numeric", 1),
                      "numeric_feature1_bucket_xf": ("categorical", 5),
                      "categorical_feature_xf": ("categorical", 8),
                      "categorical_calculated_xf": ("categorical", 3)}
