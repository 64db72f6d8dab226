"""The infra check: a candidate served in its own process, queried, judged (load, NaN, latency)."""

import math

import pytest

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
