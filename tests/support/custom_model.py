"""A model folder with its own build_keras_model that declares its tunables (tests only).

``write_custom_model(models_package, **changes)`` writes ``config.py`` and
``model.py`` into the ``models_package`` fixture's throwaway package: one hidden
layer whose ``width`` and ``l2`` penalty are the model's own settings
(``config.model_args``), declared in ``model.py``'s ``TUNABLES``. Trains on the
sample warehouse's ``basic_template`` table.
"""

from pathlib import Path

NAME = "mymodel"

CONFIG = '''from pipelines.config import Choice, DataSource, ModelConfig, Tuning, Uniform

CONFIG = ModelConfig(
    task="regression",
    label_key="label",
    dense_float_features=["numeric_feature1", "numeric_feature2"],
    categorical_int_features={{"categorical_calculated": 2}},
    train_steps={train_steps},
    source=DataSource(table="basic_template", split_key="id"),
    model_args={model_args},
    tuning=Tuning(search_space={space}, max_trials=2, folds=3),
)
'''

MODEL = '''"""One hidden layer whose width and L2 penalty are this model's own tunables."""

from typing import Annotated

from pydantic import Field

TUNABLES = {tunables}


def build_keras_model(config):
    import tensorflow as tf

    from pipelines.trainer.builders import model_inputs

    specs = model_inputs(config)
    inputs = {{s.name: tf.keras.Input(shape=(1,), name=s.name,
                                     dtype=tf.int64 if s.kind == "categorical" else tf.float32)
              for s in specs}}
    parts = [tf.keras.layers.CategoryEncoding(num_tokens=s.width, output_mode="one_hot")(
                 inputs[s.name]) if s.kind == "categorical" else inputs[s.name] for s in specs]
    args = config.model_args
    x = tf.keras.layers.Dense(args["width"], activation="relu",
                              kernel_regularizer=tf.keras.regularizers.l2(args["l2"]),
                              name=f"hidden_{{args['width']}}")(tf.keras.layers.concatenate(parts))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, name="prediction")(x))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
    return model
'''

TUNABLES = ('{"width": Annotated[int, Field(ge=1, le=64)], '
            '"l2": Annotated[float, Field(ge=0, lt=1)]}')
# The config's own values learn little in a few steps (one unit, a heavy penalty): trials
# with more units and a light one beat them in every fold, so the tuning adopts one.
MODEL_ARGS = '{"width": 1, "l2": 0.9}'
SPACE = '{"width": Choice([8, 16]), "l2": Uniform(0.0, 0.01)}'


def write_custom_model(models_package, *, model_args: str = MODEL_ARGS, space: str = SPACE,
                       tunables: str | None = TUNABLES, train_steps: int = 30,
                       with_model: bool = True) -> Path:
    """Writes the folder (``tunables`` None: model.py declares none); returns it."""
    import sys

    folder = models_package(NAME, CONFIG.format(model_args=model_args, space=space,
                                                train_steps=train_steps))
    module = f"{folder.parent.name}.{NAME}.model"
    sys.modules.pop(module, None)
    if with_model:
        source = MODEL.format(tunables=tunables or "{}")
        if tunables is None:
            source = source.replace("TUNABLES = {}\n", "")
        (folder / "model.py").write_text(source)
    return folder
