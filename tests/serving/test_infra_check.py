"""The infra check: a candidate served in its own process, queried, judged (load, NaN, latency)."""

import math

import pytest

from pipelines.serving import infra_check
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


@pytest.fixture
def started(monkeypatch):
    """Counts the serving processes started."""
    count = []
    original = infra_check.ServingProcess.__init__

    def counted(self):
        count.append(self)
        original(self)

    monkeypatch.setattr(infra_check.ServingProcess, "__init__", counted)
    return count


def test_a_check_sent_ahead_is_the_answer_validate_collects(models, started):
    with infra_check.prestarted():
        assert infra_check.has_waiting()
        assert infra_check.check_ahead(models["good"], REQUESTS, 1000) is True
        assert not infra_check.has_waiting()
        result = validate(models["good"], REQUESTS, max_latency_ms=1000)
        assert result["blessed"] is True and result["requests"] == 5, result
        assert len(started) == 1  # the prestarted process answered
        again = validate(models["good"], REQUESTS, max_latency_ms=1000)  # none ahead now
        assert again["blessed"] is True and len(started) == 2


def test_a_different_job_is_checked_anew_and_the_one_ahead_is_stopped(models, started):
    with infra_check.prestarted():
        infra_check.check_ahead(models["nan"], REQUESTS, 1000)
        result = validate(models["good"], REQUESTS, max_latency_ms=1000)
        assert result["blessed"] is True, result  # not the NaN model's answer
        assert len(started) == 2
    assert started[0]._proc.poll() is not None  # noqa: SLF001 - ended with the block
    assert not infra_check._checking  # noqa: SLF001


def test_no_check_ahead_without_a_waiting_process(models, started):
    assert infra_check.check_ahead(models["good"], REQUESTS, 1000) is False
    assert started == []
