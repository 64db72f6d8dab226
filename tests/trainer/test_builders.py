"""Prebuilt models take exactly the declared features and produce the task's outputs."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.config import ConfigError, ModelConfig
from pipelines.trainer.builders import build_keras_model, model_inputs

BASE = dict(label_key="y", dense_float_features=["a"], bucket_features={"a": 3},
            vocab_features={"v": {"top_k": 4, "num_oov_buckets": 1}},
            categorical_int_features={"c": 2}, num_epochs=1,
            training_args={"dnn_hidden_units": [8, 4], "dropout": 0.1},
            source={"table": "t", "split_key": "id"})


def batch(n=5, sequence=False):
    rng = np.random.default_rng(0)
    data = {"a_xf": rng.normal(size=(n, 1)).astype("float32"),
            "a_bucket_xf": rng.integers(0, 3, (n, 1)), "v_xf": rng.integers(0, 5, (n, 1)),
            "c_xf": rng.integers(0, 3, (n, 1))}
    if sequence:
        data["s_xf"] = rng.normal(size=(n, 6)).astype("float32")
    return {k: tf.constant(v) for k, v in data.items()}


@pytest.mark.parametrize("model_type", ["dnn", "wide_deep"])
def test_regression_models(model_type):
    model = build_keras_model(ModelConfig(**BASE, model_type=model_type))
    assert sorted(model.input_names) == ["a_bucket_xf", "a_xf", "c_xf", "v_xf"]
    out = model(batch()).numpy()
    assert out.shape == (5, 1) and np.isfinite(out).all()
    assert model.loss == "mse"


def test_binary_classifier_outputs_probabilities():
    model = build_keras_model(ModelConfig(**BASE, task="binary_classification"))
    out = model(batch()).numpy()
    assert out.shape == (5, 1) and ((out > 0) & (out < 1)).all()


def test_multiclass_classifier_outputs_distributions():
    model = build_keras_model(ModelConfig(**BASE, task="multiclass_classification",
                                          num_classes=4))
    out = model(batch()).numpy()
    assert out.shape == (5, 4) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_rnn_over_sequence(cell):
    config = ModelConfig(**{**BASE, "training_args": {"dnn_hidden_units": [4], "rnn_cell": cell,
                                                      "rnn_units": 3}},
                         model_type="rnn", sequence_features={"s": {"max_length": 6}})
    model = build_keras_model(config)
    assert any(layer.name == "s_xf_rnn" for layer in model.layers)
    assert model(batch(sequence=True)).shape == (5, 1)


def test_inputs_follow_declarations():
    specs = {s.name: (s.kind, s.width) for s in model_inputs(ModelConfig(**BASE))}
    assert specs == {"a_xf": ("numeric", 1), "a_bucket_xf": ("categorical", 3),
                     "v_xf": ("categorical", 5), "c_xf": ("categorical", 3)}


def test_training_learns_a_linear_relation():
    config = ModelConfig(**{**BASE, "training_args": {"dnn_hidden_units": [8],
                                                      "optimizer_kwargs": {"learning_rate": 0.05}}})
    model = build_keras_model(config)
    data = batch(256)
    y = 3 * data["a_xf"].numpy()
    before = model.evaluate(data, y, verbose=0)
    model.fit(data, y, epochs=30, verbose=0)
    assert model.evaluate(data, y, verbose=0) < before / 10


def test_bad_optimizer_kwargs_are_a_config_error():
    config = ModelConfig(**{**BASE, "training_args": {"optimizer_kwargs": {"learning_rat": 1}}})
    with pytest.raises(ConfigError, match="optimizer_kwargs .* are not accepted by Adam"):
        build_keras_model(config)
