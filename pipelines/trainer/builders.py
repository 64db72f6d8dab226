"""Prebuilt Keras models built from a model config's feature declarations.

Every builder reads the same declarations the transform used (one source of
truth): float features feed the deep part, bucket/vocab/categorical ids are
one-hot encoded, sequences go through a GRU or LSTM. The head follows the task.
A model folder's ``model.py`` may replace all of this with its own
``build_keras_model(config)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import tensorflow as tf

from pipelines.compat import patch_autograph_for_tf_keras
from pipelines.config.errors import ConfigError
from pipelines.config.model_config import ModelConfig
from pipelines.features.kinds import FEATURE_KINDS, declared

patch_autograph_for_tf_keras()  # Trainer imports this module before it builds a model


@dataclass(frozen=True)
class ModelInput:
    """One transformed feature as the Keras model sees it."""

    name: str
    kind: str  # "numeric" | "categorical" | "sequence"
    width: int  # 1, number of ids, or sequence length


def model_inputs(config: ModelConfig) -> list[ModelInput]:
    """The transformed features a prebuilt model takes, derived from the config."""
    return [ModelInput(kind.output_name(key), kind.model_input, kind.width(spec))
            for kind in FEATURE_KINDS for key, spec in declared(config, kind)]


def as_model_inputs(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Transformed features as the model's inputs: a rank-1 ``[batch]`` tensor becomes
    ``[batch, 1]`` (every non-sequence input has shape ``(1,)``)."""
    return {k: tf.reshape(v, [-1, 1]) if v.shape.rank == 1 else v for k, v in features.items()}


def _keras_inputs(specs: list[ModelInput]) -> dict[str, tf.keras.Input]:
    return {s.name: tf.keras.Input(shape=(s.width if s.kind == "sequence" else 1,), name=s.name,
                                   dtype=tf.int64 if s.kind == "categorical" else tf.float32)
            for s in specs}


def _encoded(specs, inputs, kind):
    if kind == "categorical":
        return [tf.keras.layers.CategoryEncoding(num_tokens=s.width, output_mode="one_hot",
                                                 name=f"{s.name}_onehot")(inputs[s.name])
                for s in specs if s.kind == kind]
    return [inputs[s.name] for s in specs if s.kind == kind]


def _concat(tensors: list[tf.Tensor]) -> tf.Tensor:
    return tensors[0] if len(tensors) == 1 else tf.keras.layers.concatenate(tensors)


def _tower(x: tf.Tensor, config: ModelConfig) -> tf.Tensor:
    args = config.training_args
    for i, units in enumerate(args.dnn_hidden_units):
        x = tf.keras.layers.Dense(units, activation=args.layer_activation, name=f"dense_{i}")(x)
        if args.dropout:
            x = tf.keras.layers.Dropout(args.dropout)(x)
    return x


def _sequence_encodings(specs, inputs, config: ModelConfig) -> list[tf.Tensor]:
    cell = {"gru": tf.keras.layers.GRU, "lstm": tf.keras.layers.LSTM}[config.training_args.rnn_cell]
    encoded = []
    for s in specs:
        if s.kind != "sequence":
            continue
        x = tf.keras.layers.Reshape((s.width, 1))(inputs[s.name])
        x = tf.keras.layers.Masking(mask_value=0.0)(x)
        encoded.append(cell(config.training_args.rnn_units, name=f"{s.name}_rnn")(x))
    return encoded


def _head(x: tf.Tensor, config: ModelConfig) -> tuple[tf.Tensor, str]:
    if config.task == "regression":
        return tf.keras.layers.Dense(1, name="prediction")(x), "mse"
    if config.task == "binary_classification":
        return tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x), \
            "binary_crossentropy"
    return (tf.keras.layers.Dense(config.num_classes, activation="softmax",
                                  name="probabilities")(x), "sparse_categorical_crossentropy")


STEPS_PER_EXECUTION = 32


def _compile(model: tf.keras.Model, loss: str, config: ModelConfig) -> tf.keras.Model:
    args = config.training_args
    try:
        optimizer = getattr(tf.keras.optimizers, args.optimizer)(**args.optimizer_kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model {config.name!r}: training_args.optimizer_kwargs "
                          f"{args.optimizer_kwargs} are not accepted by {args.optimizer}: "
                          f"{err}") from None
    metrics = [getattr(tf.keras.metrics, m)() for m in args.metrics]
    # Several steps per call of the compiled train function: the same updates in the
    # same order, without a Python round trip per batch (most of a small model's step).
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  steps_per_execution=STEPS_PER_EXECUTION)
    return model


def _feed_forward(config: ModelConfig, kind: str) -> tf.keras.Model:
    specs = model_inputs(config)
    inputs = _keras_inputs(specs)
    x = _concat(_encoded(specs, inputs, "numeric") + _encoded(specs, inputs, "categorical")
                + _sequence_encodings(specs, inputs, config))
    output, loss = _head(_tower(x, config), config)
    return _compile(tf.keras.Model(inputs, output, name=f"{config.name or 'model'}_{kind}"),
                    loss, config)


def build_dnn(config: ModelConfig) -> tf.keras.Model:
    """A feed-forward network over every feature (one-hot ids, scaled floats)."""
    return _feed_forward(config, "dnn")


def build_wide_deep(config: ModelConfig) -> tf.keras.Model:
    """Wide (linear over one-hot ids) and deep (DNN over floats) joined at the head."""
    specs = model_inputs(config)
    inputs = _keras_inputs(specs)
    numeric = _encoded(specs, inputs, "numeric")
    wide = _encoded(specs, inputs, "categorical")
    deep = _tower(_concat(numeric or wide), config)
    joined = _concat([deep, *wide]) if wide else deep
    output, loss = _head(joined, config)
    return _compile(tf.keras.Model(inputs, output, name=f"{config.name or 'model'}_wide_deep"),
                    loss, config)


def build_rnn(config: ModelConfig) -> tf.keras.Model:
    """A GRU/LSTM over each sequence feature, joined with the other features in a DNN."""
    return _feed_forward(config, "rnn")


BUILDERS = {"dnn": build_dnn, "wide_deep": build_wide_deep, "rnn": build_rnn}


def build_keras_model(config: ModelConfig, custom_module: str | None = None) -> tf.keras.Model:
    """The model for ``config``: the folder's own ``build_keras_model`` or a prebuilt one."""
    tf.keras.utils.set_random_seed(config.seed)
    if custom_module:
        module = importlib.import_module(custom_module)
        build = getattr(module, "build_keras_model", None)
        if build is None:
            raise ConfigError(f"model {config.name!r}: {custom_module} must define "
                              "build_keras_model(config)")
        return build(config)
    return BUILDERS[config.model_type](config)
