"""``fullcycle schedule`` sends the Scheduler jobs ``pulumi up`` creates: training ticks to
/runs and, for a model with ``scoring.schedule``, scoring ticks to /scores."""

import datetime as dt
import json
import threading

import httpx

from pipelines.runner import scheduler
from tests.support.stacks import stack


def test_the_stacks_jobs_are_its_training_and_scoring_schedules():
    config = stack([{"name": "taxi_tips", "schedule": "0 3 * * *",
                     "scoring": {"schedule": "30 6 * * *", "time_zone": "Europe/Amsterdam"}},
                    {"name": "basic_template"}])
    jobs = {j.job: (j.model, j.path, j.schedule, j.time_zone)
            for j in scheduler.stack_schedules(config)}
    assert jobs == {  # the names, routes and crons of the Scheduler jobs in the plan
        "fc-taxi-tips-train": ("taxi_tips", "/runs", "0 3 * * *", "Etc/UTC"),
        "fc-basic-template-train": ("basic_template", "/runs", "0 3 * * *", "Etc/UTC"),
        "fc-taxi-tips-score": ("taxi_tips", "/scores", "30 6 * * *", "Europe/Amsterdam")}


def test_a_scoring_tick_posts_scores_as_cloud_scheduler_would(monkeypatch):
    config = stack([{"name": "taxi_tips", "schedule": "0 3 * * *",
                     "scoring": {"schedule": "30 6 * * *", "time_zone": "Europe/Amsterdam"}}])
    sent = []

    def fake_send(url, request, retry):
        sent.append((request.path, json.loads(request.body), request.headers))
        return httpx.Response(202)

    monkeypatch.setattr(scheduler, "send", fake_send)
    stop = threading.Event()
    # 05:29:59.95 UTC: the scoring tick (06:30 in Amsterdam) comes before training (03:00 UTC)
    before = dt.datetime(2026, 12, 6, 5, 29, 59, 950000, tzinfo=dt.timezone.utc)
    scheduler.run_schedule(scheduler.stack_schedules(config), "http://runner", stop,
                           on_sent=lambda job, tick, code: stop.set(), now=lambda: before)
    ((path, body, headers),) = sent
    assert path == "/scores" and body == {"model": "taxi_tips"}
    assert headers["X-CloudScheduler-ScheduleTime"] == "2026-12-06T05:30:00Z"
    assert headers["X-CloudScheduler-JobName"] == "fc-taxi-tips-score"
