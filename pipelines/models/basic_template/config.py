"""basic_template: the original platform's example config, unchanged in names and values.

A regression on synthetic data (``fullcycle data seed``) whose label depends
linearly on the two numeric features and on both categorical ones.
"""

from pipelines.config import (
    Choice,
    DataSource,
    LogUniform,
    ModelConfig,
    TrainingArgs,
    Tuning,
    accuracy_metric,
    create_metric_spec,
    mse_metric,
)

_LABEL_KEY = "label"
_CATEGORICAL_INT_FEATURES = {"categorical_calculated": 2}
_DENSE_FLOAT_FEATURE_KEYS = ["numeric_feature1", "numeric_feature2"]
_BUCKET_FEATURES = {"numeric_feature1": 5}
_VOCAB_FEATURES = {"categorical_feature": {"top_k": 5, "num_oov_buckets": 3}}
_TRAIN_BATCH_SIZE = 128
_EVAL_BATCH_SIZE = 128
_NUM_EPOCHS = 250
_TRAINING_ARGS = {
    "dnn_hidden_units": [6, 3],
    "optimizer": "Adam",  # or tf.keras.optimizers.Adam
    "optimizer_kwargs": {"learning_rate": 0.01},
    "layer_activation": None,
    "metrics": ["Accuracy"],
}
_EVAL_METRIC_SPEC = create_metric_spec([
    mse_metric(upper_bound=25, absolute_change=1),
    accuracy_metric(),
])
# `fullcycle tune basic_template` searches this: each trial trains as a run does (250
# epochs), once per cross-validation fold of the train split; every later run trains with
# the best, if it beat the values above in every fold, else with the values above.
# No dropout: the label is linear in the features, and dropout only made runs worse;
# batches from 64 to 512: larger ones average out the gradient noise a linear model ends
# training with (bench/RESULTS.md). A model of your own may add "dropout": Uniform(0, 0.5).
_TUNING = Tuning(
    search_space={
        "learning_rate": LogUniform(1e-3, 1e-1),
        "dnn_hidden_units": Choice([[6, 3], [16, 8], [32, 16]]),
        "train_batch_size": Choice([64, 128, 256, 512]),
    },
    objective="val_loss",
    max_trials=6,
)

CONFIG = ModelConfig(
    task="regression",
    label_key=_LABEL_KEY,
    dense_float_features=_DENSE_FLOAT_FEATURE_KEYS,
    categorical_int_features=_CATEGORICAL_INT_FEATURES,
    bucket_features=_BUCKET_FEATURES,
    vocab_features=_VOCAB_FEATURES,
    train_batch_size=_TRAIN_BATCH_SIZE,
    eval_batch_size=_EVAL_BATCH_SIZE,
    num_epochs=_NUM_EPOCHS,
    training_args=TrainingArgs(**_TRAINING_ARGS),
    eval_metric_spec=_EVAL_METRIC_SPEC,
    source=DataSource(table="basic_template", split_key="id"),
    eval_slices=["categorical_feature"],
    tuning=_TUNING,
)
