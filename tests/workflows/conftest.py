"""A model to score without training one: a small SavedModel with the exported signature's
shape (raw features by name, ``assets.extra/serving.json``), a table of rows, a baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.data import warehouse

MODEL = "scored"
CONFIG = '''
from pipelines.config import DataSource, ModelConfig
CONFIG = ModelConfig(
    task="{task}", {classes}
    label_key="label",
    dense_float_features=["x"],
    categorical_int_features={{"n": 10}},
    vocab_features={{"word": {{"top_k": 5}}}},
    num_epochs=1,
    source=DataSource(table="rows", split_key="id"),
    {extra}
)
'''
ROWS = 400


def save_model(path: Path, task: str) -> Path:
    """``serving_default`` as fullcycle exports it: ``x`` (float, NaN missing), ``n`` (int,
    -2**63 missing) and ``word`` (string, required) in; ``outputs`` out."""
    import tensorflow as tf

    from pipelines.features.kinds import MISSING_INT

    class Model(tf.Module):
        @tf.function(input_signature=[{"x": tf.TensorSpec([None], tf.float32, name="x"),
                                       "n": tf.TensorSpec([None], tf.int64, name="n"),
                                       "word": tf.TensorSpec([None], tf.string, name="word")}])
        def serve(self, features):
            x = tf.where(tf.math.is_nan(features["x"]), 100.0, features["x"])
            n = tf.where(features["n"] == MISSING_INT, tf.constant(7, tf.int64), features["n"])
            value = x + tf.cast(n, tf.float32) + tf.cast(tf.strings.length(features["word"]),
                                                         tf.float32)
            if task == "binary_classification":
                return {"outputs": tf.sigmoid(value / 10.0 - 3.0)}
            if task == "multiclass_classification":
                logits = tf.stack([value / 10.0, tf.ones_like(value) * 3.0, -value / 10.0], 1)
                return {"outputs": tf.nn.softmax(logits)}
            return {"outputs": value}

    module = Model()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    (path / "assets.extra").mkdir(exist_ok=True)
    (path / "assets.extra" / "serving.json").write_text(json.dumps({"features": {
        "x": {"dtype": "float32", "sequence": False, "optional": True},
        "n": {"dtype": "int64", "sequence": False, "optional": True},
        "word": {"dtype": "string", "sequence": False, "optional": False}}}))
    return path


def write_rows(workspace, sql: str = "") -> None:
    """The table ``rows``: ROWS rows, a tenth of x and n null; then ``sql`` if given."""
    con = warehouse.connect(workspace.warehouse, read_only=False)
    try:
        con.execute(f"""CREATE OR REPLACE TABLE rows AS SELECT range AS id,
            CASE WHEN range % 10 = 3 THEN NULL ELSE (range % 37) / 3.0 END AS x,
            CASE WHEN range % 10 = 5 THEN NULL ELSE range % 9 END AS n,
            ['ab', 'c', 'def', 'gh'][range % 4 + 1] AS word,
            'r' || (range % 3) AS region, (range % 5) * 1.5 AS label
            FROM range({ROWS})""")
        if sql:
            con.execute(sql)
    finally:
        con.close()


def record_rows_baseline(workspace, model: str = MODEL) -> None:
    """The table's statistics and inferred schema as the model's data baseline."""
    import tensorflow_data_validation as tfdv

    from pipelines.data.example_gen import as_example_lists
    from pipelines.pipeline.baseline import record_baseline
    from pipelines.pipeline.statistics import record_batch_statistics

    con = warehouse.connect(workspace.warehouse)
    try:
        batches = con.execute("SELECT * FROM rows").to_arrow_reader(1000)
        stats = record_batch_statistics(as_example_lists(b) for b in batches)
    finally:
        con.close()
    run = workspace.home / "blessed_run"
    (run / "statistics" / "Split-train").mkdir(parents=True)
    (run / "schema").mkdir()
    (run / "statistics" / "Split-train" / "FeatureStats.pb").write_bytes(
        stats.SerializeToString())
    tfdv.write_schema_text(tfdv.infer_schema(stats), str(run / "schema" / "schema.pbtxt"))
    record_baseline(str(workspace.baseline_dir(model)), str(run / "statistics"),
                    str(run / "schema"), '["train"]')


@pytest.fixture
def scored_model(workspace, models_package):
    """Writes the model folder, its pushed version ``1000``, the rows and the baseline;
    returns ``make(task=..., extra=...)`` to write another config of the same model."""
    def make(task: str = "regression", extra: str = "", baseline: bool = True) -> Path:
        classes = "num_classes=3," if task == "multiclass_classification" else ""
        models_package(MODEL, CONFIG.format(task=task, classes=classes, extra=extra))
        version = workspace.serving_model_dir(MODEL) / "1000"
        version.parent.mkdir(parents=True, exist_ok=True)
        if not version.exists():
            save_model(version, task)
        if not workspace.baseline_dir(MODEL).exists():
            write_rows(workspace)
            if baseline:
                record_rows_baseline(workspace)
        return version

    return make
