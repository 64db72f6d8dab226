"""Fairness gates end to end (slow: marked e2e).

A binary model learns ``label = x1 + x2 > 0``. ``region`` is a source column,
not a feature: ``a`` and ``b`` are large groups, ``p`` has only positive labels
(its false positive rate is undefined) and ``tiny`` has fewer eval examples than
``min_slice_size``. In the unfair data, a third of region ``b``'s labels are
flipped, so the model is worse for that group: the candidate must not be blessed
and the failing slice must be named.
"""

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from pipelines.config import load_config
from pipelines.data import warehouse
from pipelines.pipeline.local import run_local

pytestmark = pytest.mark.e2e

CONFIG = '''
from pipelines.config import (DataSource, Fairness, ModelConfig, accuracy_metric,
                              create_metric_spec, fairness_metric)
CONFIG = ModelConfig(
    task="binary_classification", label_key="label", dense_float_features=["x1", "x2"],
    train_batch_size=64, eval_batch_size=64, train_steps=300, eval_steps=20,
    training_args={{"dnn_hidden_units": [8], "optimizer_kwargs": {{"learning_rate": 0.02}}}},
    eval_metric_spec=create_metric_spec([accuracy_metric(lower_bound=0.5)]),
    source=DataSource(table="{table}", split_key="id"),
    eval_slices=["region"],
    infra_validation={{"enabled": False}},
    fairness=Fairness(slice_by=["region"], min_slice_size=30, metrics=[
        fairness_metric("false_positive_rate", max_gap=0.15),
        fairness_metric("accuracy", max_gap=0.2)]),
)
'''


def table(flip_b: float, n: int = 4000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["a", "b", "p", "tiny"], size=n, p=[0.66, 0.25, 0.08, 0.01])
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    positive = region == "p"
    x1[positive] = 2.5 + np.abs(x1[positive])
    x2[positive] = np.abs(x2[positive])
    label = (x1 + x2 > 0).astype(int)
    flipped = (region == "b") & (rng.random(n) < flip_b)
    label[flipped] = 1 - label[flipped]
    return pd.DataFrame({"id": np.arange(n), "x1": x1, "x2": x2, "region": region,
                         "income": rng.lognormal(10, 1, n), "label": label})


def make_model(models_package, workspace, name: str, flip_b: float):
    con = warehouse.connect(workspace.warehouse, read_only=False)
    rows = table(flip_b)  # noqa: F841 (read by DuckDB below)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM rows")
    con.close()
    models_package(name, CONFIG.format(table=name))
    return load_config(name)


def by_value(report):
    return {row["value"]: row for row in report["slices"]}


def test_fair_model_is_blessed_small_and_undefined_slices_do_not_fail(
        models_package, workspace):
    config = make_model(models_package, workspace, "fair_model", flip_b=0.0)
    summary = run_local(config, workspace, deploy=False)
    assert summary.succeeded, summary.error
    assert summary.blessed is True, summary.fairness
    report = summary.fairness
    assert report["violations"] == 0 and report["failures"] == []
    rows = by_value(report)
    assert set(rows) == {"a", "b", "p", "tiny"}
    assert rows["a"]["gated"] and rows["b"]["gated"] and rows["a"]["passed"]
    assert sum(row["examples"] for row in rows.values()) == summary.split_rows["eval"]
    # region p has no negatives: its false positive rate is undefined, not a failure
    assert rows["p"]["gated"] and rows["p"]["passed"]
    assert rows["p"]["metrics"]["false_positive_rate"]["status"] == "undefined"
    # tiny is reported with its values, not gated
    assert not rows["tiny"]["gated"] and rows["tiny"]["examples"] < 30
    assert report["not_gated"] == [{"column": "region", "value": "tiny",
                                    "examples": rows["tiny"]["examples"]}]
    # region is sliced by, never fed to the model
    served = tf.saved_model.load(summary.pushed_path).signatures["serving_default"]
    assert set(served.structured_input_signature[1]) == {"x1", "x2"}

    # what `fullcycle run` prints, and what its --json file holds
    from pipelines.cli import render

    with render.console.capture() as captured:
        render.print_summary(summary)
    printed = captured.get()
    assert "fairness (slices of at least 30 eval examples are gated)" in printed
    assert "region=tiny" in printed and "not gated" in printed
    assert json.loads(json.dumps(summary.as_dict(), default=str))["fairness"] == report


def test_model_worse_for_one_group_is_not_blessed_and_the_slice_is_named(
        models_package, workspace):
    config = make_model(models_package, workspace, "unfair_model", flip_b=0.35)
    summary = run_local(config, workspace, deploy=False)
    assert summary.succeeded, summary.error
    assert summary.blessed is False
    assert summary.pushed_path is None
    failing = {(f["value"], f["metric"]) for f in summary.fairness["failures"]}
    assert ("b", "false_positive_rate") in failing and ("b", "accuracy") in failing
    assert {value for value, _ in failing} == {"b"}
    b = by_value(summary.fairness)["b"]["metrics"]["accuracy"]
    assert b["status"] == "fail" and b["gap"] < -0.2
    accuracy = next(m for m in summary.metrics if m.name == "accuracy")
    assert accuracy.passed  # the overall metric passes: only fairness stops the model


def test_a_slice_column_missing_from_the_source_is_refused_before_the_run(
        models_package, workspace):
    config = make_model(models_package, workspace, "typo_model", flip_b=0.0)
    from pipelines.config.errors import FullcycleError
    from pipelines.config.registry import with_overrides

    typo = with_overrides(config, fairness={**config.fairness.model_dump(),
                                            "slice_by": ["regoin"]})
    with pytest.raises(FullcycleError, match=r"the source has no column 'regoin' \(did you "
                                             r"mean \"region\"\?\); its columns: id, x1"):
        run_local(typo, workspace, deploy=False)
    continuous = with_overrides(config, eval_slices=["income"])
    with pytest.raises(FullcycleError, match=r"eval_slices column 'income' is DOUBLE with \d+ "
                                             "distinct values in the source; a floating-point "
                                             "slice column may have at most 50"):
        run_local(continuous, workspace, deploy=False)
