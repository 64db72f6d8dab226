"""taxi_tips: binary classification on the Chicago taxi data shipped with TFX.

Same features, model shape, batch sizes and steps as TFX's native-Keras taxi
example, so the two can be benchmarked side by side (``bench/local_pipeline.py``).
The label is derived in SQL, which runs unchanged on BigQuery and DuckDB.
"""

from pipelines.config import (
    DataSource,
    ModelConfig,
    TrainingArgs,
    accuracy_metric,
    auc_metric,
    create_metric_spec,
)

_LABEL_KEY = "big_tipper"
_DENSE_FLOAT_FEATURE_KEYS = ["trip_miles", "fare", "trip_seconds"]
_BUCKET_FEATURES = {
    "pickup_latitude": 10, "pickup_longitude": 10,
    "dropoff_latitude": 10, "dropoff_longitude": 10,
}
_VOCAB_FEATURES = {
    "payment_type": {"top_k": 1000, "num_oov_buckets": 10},
    "company": {"top_k": 1000, "num_oov_buckets": 10},
}
_CATEGORICAL_INT_FEATURES = {"trip_start_hour": 24, "trip_start_day": 31, "trip_start_month": 13}

CONFIG = ModelConfig(
    task="binary_classification",
    label_key=_LABEL_KEY,
    dense_float_features=_DENSE_FLOAT_FEATURE_KEYS,
    bucket_features=_BUCKET_FEATURES,
    vocab_features=_VOCAB_FEATURES,
    categorical_int_features=_CATEGORICAL_INT_FEATURES,
    model_type="wide_deep",
    train_batch_size=40,
    eval_batch_size=40,
    train_steps=1000,
    eval_steps=150,
    training_args=TrainingArgs(
        dnn_hidden_units=[100, 70, 48, 34],
        optimizer="Adam",
        optimizer_kwargs={"learning_rate": 0.001},
        layer_activation=None,
        metrics=["BinaryAccuracy"],
    ),
    eval_metric_spec=create_metric_spec([
        accuracy_metric(lower_bound=0.6, absolute_change=1e-10),
        auc_metric(),
    ]),
    source=DataSource(
        query="SELECT *, CAST(COALESCE(tips > fare * 0.2, FALSE) AS INTEGER) AS big_tipper "
              "FROM {dataset}.taxi_trips",
        split_key="trip_id",
    ),
    eval_slices=["trip_start_hour"],
)
