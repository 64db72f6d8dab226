"""A regression model on diabetes-like data, sliced by a DOUBLE column (slow: marked e2e).

sklearn's diabetes data ships ``sex`` as DOUBLE 1.0 / 2.0: it is a slice column
for ``eval_slices`` and ``fairness.slice_by`` alike, and its slices are shown
as ``sex=1`` and ``sex=2`` in the summary and the report.
"""

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.data import warehouse
from pipelines.pipeline.local import run_local

pytestmark = pytest.mark.e2e

CONFIG = '''
from pipelines.config import (DataSource, Fairness, ModelConfig, accuracy_metric,
                              create_metric_spec, fairness_metric, mse_metric)
CONFIG = ModelConfig(
    label_key="progression", dense_float_features=["age", "bmi", "bp"],
    num_epochs=20, train_batch_size=32, eval_batch_size=32,
    training_args={"dnn_hidden_units": [8], "optimizer_kwargs": {"learning_rate": 0.05}},
    scaling={"age": "z_score", "bmi": "z_score", "bp": "z_score"},
    eval_metric_spec=create_metric_spec([mse_metric(), accuracy_metric()]),
    source=DataSource(table="diabetes", split_key="id"),
    eval_slices=["sex"],
    fairness=Fairness(slice_by=["sex"], min_slice_size=10,
                      metrics=[fairness_metric("mae", max_gap=1000.0)]),
    infra_validation={"enabled": False},
)
'''


def diabetes(n: int = 442, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(19, 80, n).astype(float)
    sex = rng.choice([1.0, 2.0], n)
    bmi = rng.normal(26.4, 4.4, n)
    bp = rng.normal(94.6, 13.8, n)
    progression = 152 + 9 * (bmi - 26.4) + 1.2 * (bp - 94.6) + 8 * (sex - 1.5) \
        + rng.normal(0, 40, n)
    return pd.DataFrame({"id": np.arange(n), "age": age, "sex": sex, "bmi": bmi, "bp": bp,
                         "progression": progression})


def test_a_double_slice_column_with_two_values_is_accepted_and_reported(
        models_package, workspace, capsys):
    con = warehouse.connect(workspace.warehouse, read_only=False)
    rows = diabetes()  # noqa: F841 (read by DuckDB below)
    con.execute("CREATE TABLE diabetes AS SELECT * FROM rows")
    assert con.sql("SELECT typeof(sex) FROM diabetes LIMIT 1").fetchone() == ("DOUBLE",)
    con.close()
    models_package("diabetes", CONFIG)
    summary = run_local(load_config("diabetes"), workspace, deploy=False)
    assert summary.succeeded, summary.error
    assert [row["value"] for row in summary.fairness["slices"]] == ["1", "2"]

    from pipelines.cli.render import print_summary
    from pipelines.report.facts import slice_metrics, training_history

    print_summary(summary)
    printed = capsys.readouterr().out
    assert "sex=1 " in printed and "sex=2 " in printed and "sex=1.0" not in printed
    accuracy = next(m for m in summary.metrics if m.name == "accuracy")
    assert accuracy.note == "not meaningful for a regression label (exact match only)"
    slices = slice_metrics(load_config("diabetes"), summary.artifacts["evaluation"])
    assert [(s["column"], s["value"]) for s in slices] == [("sex", "1"), ("sex", "2")]
    assert all(s["metrics"]["examples"] > 10 for s in slices)
    (loss,) = [c for c in training_history(summary.artifacts["model_run"])["charts"]
               if c["name"] == "loss"]
    assert [c["kind"] for c in loss["curves"]] == ["training", "validation"]
    assert len(loss["curves"][1]["dots"]) == len(loss["curves"][0]["dots"]) == 10  # each point
    assert loss["epochs"] == 20
