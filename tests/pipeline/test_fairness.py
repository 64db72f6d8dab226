"""The fairness rule, and the FairnessGate metric inside a real TFMA evaluation.

The TFMA tests evaluate predictions stored in the examples
(``tests.support.evaluations``), so they exercise the eval config, the metric's import by
module name, the threshold on its violations and the report it writes, in seconds.
"""

import itertools
import json

import numpy as np
import pytest
import tensorflow_model_analysis as tfma

from pipelines.config import Fairness, fairness_metric
from pipelines.pipeline.fairness import MISSING_VALUE, Counts, auc, judge, read_report
from tests.support.evaluations import evaluate_predictions


def counts(task="binary_classification", pairs=(), threshold=0.5) -> Counts:
    result = Counts()
    for label, prediction in pairs:
        result.add(task, np.array([label]), np.atleast_1d(np.array(prediction, float)),
                   threshold)
    return result


def test_binary_counts_give_each_rate():
    c = counts(pairs=[(1, 0.9), (1, 0.2), (0, 0.7), (0, 0.1), (0, 0.3)])
    report = judge(Fairness(slice_by=["g"], metrics=[
        fairness_metric(name, max_gap=1) for name in (
            "false_positive_rate", "true_positive_rate", "false_negative_rate", "precision",
            "recall", "accuracy", "positive_prediction_rate")]), c, {("g", "x"): c})
    assert report["overall"]["metrics"] == pytest.approx({
        "false_positive_rate": 1 / 3, "true_positive_rate": 0.5, "false_negative_rate": 0.5,
        "precision": 0.5, "recall": 0.5, "accuracy": 0.6, "positive_prediction_rate": 0.4})


def test_binned_auc_matches_pairwise_auc():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    c = counts(pairs=zip(labels, scores, strict=True))
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairwise = np.mean([(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)])
    assert auc(c.positives, c.negatives) == pytest.approx(pairwise, abs=2e-3)
    assert auc(c.positives, np.zeros_like(c.negatives)) is None


def test_multiclass_and_regression_counts():
    multi = counts("multiclass_classification", [(2, [0.1, 0.2, 0.7]), (0, [0.2, 0.5, 0.3])])
    regression = counts("regression", [(1.0, 2.0), (3.0, 1.0)])
    fairness = Fairness(slice_by=["g"], metrics=[fairness_metric("accuracy", max_gap=1)])
    assert judge(fairness, multi, {})["overall"]["metrics"] == {"accuracy": 0.5}
    fairness = Fairness(slice_by=["g"], metrics=[fairness_metric("mse", max_gap=1),
                                                 fairness_metric("mae", max_gap=1)])
    assert judge(fairness, regression, {})["overall"]["metrics"] == {"mse": 2.5, "mae": 1.5}


FAIRNESS = Fairness(slice_by=["group"], min_slice_size=10, metrics=[
    fairness_metric("false_positive_rate", max_gap=0.1),
    fairness_metric("accuracy", lower_bound=0.7)])
GOOD = [(1, 0.9), (0, 0.1)] * 10  # 20 examples, all right
BAD = [(1, 0.1), (0, 0.9)] * 3 + GOOD  # 26 examples, 6 wrong both ways
MAJORITY = GOOD * 3  # 60 examples: with BAD, the overall FPR is 3/43, within 0.1 of 0


def test_slice_far_from_overall_fails_and_is_named():
    overall = counts(pairs=MAJORITY + BAD)
    report = judge(FAIRNESS, overall, {("group", "a"): counts(pairs=MAJORITY),
                                       ("group", "b"): counts(pairs=BAD)})
    rows = {row["value"]: row for row in report["slices"]}
    assert rows["a"]["passed"] and not rows["b"]["passed"]
    fpr = rows["b"]["metrics"]["false_positive_rate"]
    assert fpr["value"] == pytest.approx(3 / 13) and fpr["status"] == "fail"
    assert fpr["gap"] == pytest.approx(3 / 13 - 3 / 43)
    assert rows["b"]["metrics"]["accuracy"]["status"] == "pass"  # 20/26 >= 0.7
    assert report["violations"] == 1
    (failure,) = report["failures"]
    assert failure["column"] == "group" and failure["value"] == "b"
    assert failure["metric"] == "false_positive_rate"
    assert "more than max_gap 0.1" in failure["reason"]


def test_value_below_lower_bound_fails():
    bad = counts(pairs=[(1, 0.1)] * 5 + [(0, 0.1)] * 6)  # accuracy 6/11
    report = judge(FAIRNESS, bad, {("group", "a"): bad})
    assert [f["metric"] for f in report["failures"]] == ["accuracy"]
    assert "accuracy 0.5455 is below lower_bound 0.7" in report["failures"][0]["reason"]


def test_small_slice_is_reported_not_gated():
    small = counts(pairs=[(1, 0.1), (0, 0.9)] * 4)  # 8 < min_slice_size 10, all wrong
    report = judge(FAIRNESS, counts(pairs=GOOD), {("group", "a"): counts(pairs=GOOD),
                                                  ("group", "tiny"): small})
    assert report["violations"] == 0
    row = next(r for r in report["slices"] if r["value"] == "tiny")
    assert row["gated"] is False and row["metrics"]["accuracy"]["value"] == 0.0
    assert row["metrics"]["accuracy"]["status"] == "small"
    assert report["not_gated"] == [{"column": "group", "value": "tiny", "examples": 8}]


def test_undefined_metric_is_reported_not_failed():
    positives_only = counts(pairs=[(1, 0.9)] * 12)  # no negatives: FPR undefined
    report = judge(FAIRNESS, counts(pairs=GOOD), {("group", "a"): counts(pairs=GOOD),
                                                  ("group", "p"): positives_only})
    row = next(r for r in report["slices"] if r["value"] == "p")
    assert row["metrics"]["false_positive_rate"] == {
        "value": None, "gap": None, "status": "undefined", "violations": []}
    assert row["passed"] and report["violations"] == 0


def test_examples_without_the_column_are_not_gated_and_an_absent_column_fails():
    report = judge(FAIRNESS, counts(pairs=GOOD), {("group", MISSING_VALUE): counts(pairs=GOOD)})
    assert report["slices"][0]["gated"] is False
    assert report["violations"] == 1
    assert report["failures"][0]["reason"] == \
        "column 'group' has no value in the eval examples"


# -- inside TFMA ----------------------------------------------------------------------------

def evaluate(tmp_path, rows, models_package):
    """Runs TFMA with the model config's eval config on stored predictions."""
    models_package("fair", f'''
from pipelines.config import DataSource, Fairness, ModelConfig, fairness_metric
CONFIG = ModelConfig(
    task="binary_classification", label_key="label", dense_float_features=["x"],
    train_steps=1, source=DataSource(table="t", split_key="id"),
    fairness={FAIRNESS.model_dump()!r})
''')
    from pipelines.config import load_config

    output = evaluate_predictions(tmp_path, load_config("fair"), rows)
    return tfma.load_validation_result(output), read_report(output)


def rows_of(group, pairs):
    return [{"label": label, "prediction": float(prediction), "group": group}
            for label, prediction in pairs]


def test_tfma_blesses_fair_predictions(tmp_path, models_package):
    validation, report = evaluate(
        tmp_path, rows_of("a", GOOD) + rows_of("b", GOOD) + rows_of("c", BAD[:6])
        + rows_of(None, GOOD), models_package)
    assert validation.validation_ok, validation
    values = {row["value"]: (row["examples"], row["gated"]) for row in report["slices"]}
    assert values == {"a": (20, True), "b": (20, True), "c": (6, False),
                      MISSING_VALUE: (20, False)}
    assert report["overall"]["examples"] == 66


def test_tfma_refuses_unfair_predictions_and_names_the_slice(tmp_path, models_package):
    validation, report = evaluate(tmp_path, rows_of("a", MAJORITY) + rows_of("b", BAD),
                                  models_package)
    assert not validation.validation_ok
    (failure,) = validation.metric_validations_per_slice[0].failures
    assert failure.metric_key.name == "fairness_violations"
    assert [(f["value"], f["metric"]) for f in report["failures"]] == \
        [("b", "false_positive_rate")]
    assert json.loads(json.dumps(report)) == report  # what `run --json` carries
