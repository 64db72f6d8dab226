"""``POST /scores`` and ``GET /scores/{id}`` on the local backend: ``fullcycle score`` of the
model in a process of its own, recorded apart from runs. (Scoring itself: tests/workflows.)"""

import time

import httpx

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
