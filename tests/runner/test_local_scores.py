"""``POST /scores`` and ``GET /scores/{id}`` on the local backend: ``fullcycle score`` of the
model in a process of its own, recorded apart from runs. (Scoring itself: tests/workflows.)"""

import time

import httpx
import pytest

from pipelines.workflows.score import ScoreBlockedError
from tests.workflows.conftest import MODEL, ROWS, scored_model, write_rows  # noqa: F401

TICK = {"X-CloudScheduler-ScheduleTime": "2026-12-06T06:00:00Z"}


def wait_score(url: str, score_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        score = httpx.get(f"{url}/scores/{score_id}").json()
        if score["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return score
        time.sleep(0.5)
    raise AssertionError(f"score {score_id} did not finish in {timeout} s")


def test_a_scheduled_score_runs_once_and_reports_why_it_failed(runner):
    url, store, _ = runner
    first = httpx.post(f"{url}/scores", json={"model": "basic_template"}, headers=TICK)
    again = httpx.post(f"{url}/scores", json={"model": "basic_template"}, headers=TICK)
    assert first.status_code == again.status_code == 202, first.text
    score_id = first.json()["run_id"]
    assert score_id.startswith("score-basic-template-s") and first.json()["trigger"] == \
        "scheduler"
    assert again.json()["run_id"] == score_id and again.json()["duplicate"]
    score = wait_score(url, score_id)
    # nothing was trained in this warehouse: the score workflow's own error, named
    assert score["state"] == "FAILED"
    assert "model 'basic_template' has no pushed version" in score["error"]
    assert store.get(score_id) is None  # scores are not runs: GET /runs does not list them
    assert httpx.get(f"{url}/runs").json()["runs"] == []
    assert httpx.get(f"{url}/scores/score-basic-template-s0").status_code == 404


def test_the_local_backends_score_is_fullcycle_score(workspace, scored_model):  # noqa: F811
    """What the score's process runs and reports (in this process: the throwaway model
    package exists only here)."""
    from pipelines.runner.backends import score_model

    scored_model()
    summary = score_model(MODEL, "dev", {})
    assert (summary["rows"], summary["version"], summary["error"]) == (ROWS, "1000", None)
    assert summary["destination"] == f"{MODEL}_predictions" and summary["findings"] == []
    write_rows(workspace, "UPDATE rows SET x = x * 1000")
    with pytest.raises(ScoreBlockedError, match=r"\[score vs train\] x: drift"):
        score_model(MODEL, "dev", {})  # the child sends this error as the score's
