"""features_transform against values computed by hand, with analyzers run by tf.transform."""

import math

import pytest

from pipelines.config import Impute
from pipelines.features.transform import features_transform
from pipelines.testing import assert_rows_close, run_preprocessing_fn

ROWS = [
    {"a": 1.0, "b": 2.0, "c": 10.0, "d": 0.0, "e": 1.0, "cat": 0, "s": "x", "seq": [1.0, 3.0],
     "y": 1},
    {"a": 3.0, "b": None, "c": 20.0, "d": 9.0, "e": None, "cat": 2, "s": "y", "seq": [5.0],
     "y": 0},
    {"a": 5.0, "b": 4.0, "c": 40.0, "d": 99.0, "e": 7.0, "cat": 9, "s": "x", "seq": [1.0, 3.0, 7.0],
     "y": 1},
    {"a": 7.0, "b": 6.0, "c": None, "d": 3.0, "e": 7.0, "cat": None, "s": None, "seq": [],
     "y": 0},
]


def preprocessing_fn(inputs):
    return features_transform(
        inputs, label_key="y", task="binary_classification",
        dense_features=["a", "b", "c", "d", "e"],
        scaling={"b": "min_max", "c": "none", "d": "log", "e": "none"},
        imputation={"b": "median", "c": Impute(strategy="constant", value=-1.0),
                    "e": "most_frequent", "s": Impute(strategy="constant", value="x")},
        bucket_features={"a": 2},
        vocab_features={"s": {"top_k": 1, "num_oov_buckets": 2}},
        categorical_int_features={"cat": 3},
        sequence_features={"seq": {"max_length": 2}},
    )


@pytest.fixture(scope="module")
def out():
    return run_preprocessing_fn(preprocessing_fn, ROWS)


def test_z_score_is_the_default_scaling(out):
    std = math.sqrt(((1 - 4) ** 2 + (3 - 4) ** 2 + (5 - 4) ** 2 + (7 - 4) ** 2) / 4)
    assert_rows_close(out, [{"a_xf": (v - 4) / std} for v in (1.0, 3.0, 5.0, 7.0)])


def test_median_imputation_then_min_max(out):
    # b = [2, ?, 4, 6]: median of present values is 4 -> [2, 4, 4, 6] -> (b - 2) / 4
    assert_rows_close(out, [{"b_xf": 0.0}, {"b_xf": 0.5}, {"b_xf": 0.5}, {"b_xf": 1.0}], atol=1e-3)


def test_constant_imputation_unscaled(out):
    assert_rows_close(out, [{"c_xf": 10.0}, {"c_xf": 20.0}, {"c_xf": 40.0}, {"c_xf": -1.0}])


def test_log_scaling(out):
    assert_rows_close(out, [{"d_xf": math.log1p(v)} for v in (0.0, 9.0, 99.0, 3.0)])


def test_most_frequent_imputation(out):
    assert_rows_close(out, [{"e_xf": 1.0}, {"e_xf": 7.0}, {"e_xf": 7.0}, {"e_xf": 7.0}])


def test_quantile_buckets(out):
    # two buckets split at the median of [1, 3, 5, 7]
    buckets = [row["a_bucket_xf"] for row in out]
    assert buckets[0] == buckets[1] == 0 and buckets[2] == buckets[3] == 1


def test_vocabulary_with_oov_buckets(out):
    # top_k=1 keeps "x" (id 0); "y" hashes to one of the 2 OOV ids (1 or 2); missing -> "x"
    ids = [row["s_xf"] for row in out]
    assert ids[0] == ids[2] == ids[3] == 0 and ids[1] in (1, 2)


def test_categorical_identity_maps_unknown_and_missing_to_oov_slot(out):
    assert [row["cat_xf"] for row in out] == [0, 2, 3, 3]


def test_sequences_are_z_scored_padded_and_cut(out):
    values = [1.0, 3.0, 5.0, 1.0, 3.0, 7.0]
    mean = sum(values) / 6
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 6)
    z = [(v - mean) / std for v in values]
    assert_rows_close(out, [{"seq_xf": [z[0], z[1]]}, {"seq_xf": [z[2], 0.0]},
                            {"seq_xf": [z[3], z[4]]}, {"seq_xf": [0.0, 0.0]}])


def test_classification_label_is_int(out):
    assert [row["y_xf"] for row in out] == [1, 0, 1, 0]
