"""Infra validation: the candidate is served in a separate process and queried before push."""

import math

import pytest
import tensorflow as tf

from pipelines.pipeline.infra_validator import example_requests
from pipelines.serving.infra_check import validate
from tests.support.models import constant_model

REQUESTS = [[{"x": 1.0}, {"x": 2.0}]] * 5


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("candidates")
    broken = root / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    return {"good": constant_model(root / "good", 1.0),
            "nan": constant_model(root / "nan", math.nan), "broken": str(broken)}


def test_servable_model_is_blessed_with_its_latency(models):
    result = validate(models["good"], REQUESTS, max_latency_ms=1000)
    assert result["blessed"] is True, result
    assert result["requests"] == 5 and 0 < result["latency_p99_ms"] < 1000


def test_model_that_cannot_load_is_not_blessed(models, tmp_path):
    result = validate(models["broken"], REQUESTS, max_latency_ms=1000)
    assert result["blessed"] is False and "does not load" in result["reason"]
    missing = validate(str(tmp_path / "nowhere"), REQUESTS, max_latency_ms=1000)
    assert missing["blessed"] is False and "does not load" in missing["reason"]


def test_model_answering_nan_is_not_blessed(models):
    result = validate(models["nan"], REQUESTS, max_latency_ms=1000)
    assert result == {"blessed": False, "reason": "request 0 answered NaN"}


def test_requests_the_model_cannot_answer_fail_validation(models):
    result = validate(models["good"], [[{"y": 1.0}]], max_latency_ms=1000)
    assert result["blessed"] is False and "lacks feature(s) x" in result["reason"]


def test_latency_over_budget_is_not_blessed(models):
    result = validate(models["good"], REQUESTS, max_latency_ms=1e-6)
    assert result["blessed"] is False and "exceeds the budget" in result["reason"]


def test_requests_are_eval_examples_without_the_label(tmp_path):
    split = tmp_path / "Split-eval"
    split.mkdir()
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for i in range(5):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"])),
                "seq": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2])),
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[9.0])),
            })).SerializeToString())
    batches = example_requests(str(tmp_path), "eval", "label", requests=2, batch_size=2)
    assert batches == [[{"x": 0.0, "name": "a", "seq": [1, 2]},
                        {"x": 1.0, "name": "a", "seq": [1, 2]}],
                       [{"x": 2.0, "name": "a", "seq": [1, 2]},
                        {"x": 3.0, "name": "a", "seq": [1, 2]}]]
    with pytest.raises(ValueError, match="no examples in split 'train'"):
        example_requests(str(tmp_path), "train", "label", 1, 1)
