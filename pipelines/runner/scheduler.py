"""The local twin of Cloud Scheduler: the same request, at the same cron ticks, retried alike.

The jobs are those ``pulumi up`` creates (``stack_schedules``): each model's training
(``fc-<model>-train`` -> ``/runs``) and, with ``scoring.schedule``, its batch scoring
(``fc-<model>-score`` -> ``/scores``). Cloud Scheduler POSTs the job body to the route with
``Content-Type: application/json``, ``X-CloudScheduler-ScheduleTime`` (the tick,
RFC 3339), ``X-CloudScheduler-JobName`` and an OIDC token (added in the cloud;
locally there is no identity to prove). Failed attempts (connection errors,
5xx, 429) are retried with exponential backoff per the job's retry config.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pipelines.stack.config import RetrySettings, StackConfig
from pipelines.stack.names import RUNS_ROUTE, SCORES_ROUTE


@dataclass(frozen=True)
class Schedule:
    """One Scheduler job: its name, the model and route it POSTs, its cron and retries."""

    job: str
    model: str
    path: str
    schedule: str
    time_zone: str
    retry: RetrySettings


def stack_schedules(config: StackConfig) -> list[Schedule]:
    """Every Scheduler job of the stack that POSTs a model: training, then scoring."""
    jobs = [Schedule(config.names(m.name).scheduler_job, m.name, RUNS_ROUTE, m.schedule,
                     m.time_zone, m.retry) for m in config.models]
    return jobs + [Schedule(config.names(m.name).score_job, m.name, SCORES_ROUTE,
                            m.scoring.schedule, m.scoring.time_zone, m.retry)
                   for m in config.models if m.scoring.schedule is not None]


@dataclass(frozen=True)
class SchedulerRequest:
    path: str
    body: bytes
    headers: dict[str, str]


def scheduler_request(model: str, schedule_time: dt.datetime, job_name: str,
                      path: str = RUNS_ROUTE) -> SchedulerRequest:
    """Exactly what Cloud Scheduler sends for a tick of ``model``'s job (to ``path``)."""
    stamp = schedule_time.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SchedulerRequest(
        path=path, body=json.dumps({"model": model}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Google-Cloud-Scheduler",
                 "X-CloudScheduler": "true", "X-CloudScheduler-JobName": job_name,
                 "X-CloudScheduler-ScheduleTime": stamp})


def backoffs(retry: RetrySettings) -> list[float]:
    """Seconds to wait before each retry: doubling from min, max_doublings times, capped."""
    waits, wait = [], float(retry.min_backoff_seconds)
    for attempt in range(retry.retry_count):
        waits.append(min(wait, retry.max_backoff_seconds))
        if attempt < retry.max_doublings:
            wait *= 2
    return waits


def send(runner_url: str, request: SchedulerRequest, retry: RetrySettings,
         sleep: Callable[[float], None] = time.sleep) -> httpx.Response:
    """Sends one tick, retrying as Cloud Scheduler would; returns the last response."""
    waits = backoffs(retry)
    for attempt in range(len(waits) + 1):
        try:
            response = httpx.post(runner_url.rstrip("/") + request.path, content=request.body,
                                  headers=request.headers,
                                  timeout=retry.attempt_deadline_seconds)
            if response.status_code < 500 and response.status_code != 429:
                return response
        except httpx.TransportError:
            if attempt == len(waits):
                raise
        if attempt < len(waits):
            sleep(waits[attempt])
    return response


def next_tick(entry: Schedule, after: dt.datetime) -> dt.datetime:
    """The next time ``entry``'s cron fires after ``after``, in its time zone (a ``Schedule``
    or anything with ``schedule`` and ``time_zone``, such as a stack's model entry)."""
    from croniter import croniter

    local = after.astimezone(zoneinfo.ZoneInfo(entry.time_zone))
    return croniter(entry.schedule, local).get_next(dt.datetime)


def run_schedule(jobs: list[Schedule], runner_url: str, stop: threading.Event,
                 on_sent: Callable[[Schedule, dt.datetime, int], None],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
    """Fires each job's ticks until ``stop`` is set."""
    upcoming = {j.job: next_tick(j, now()) for j in jobs}
    by_name = {j.job: j for j in jobs}
    while not stop.is_set():
        name, tick = min(upcoming.items(), key=lambda item: item[1])
        if stop.wait(max(0.0, (tick - now()).total_seconds())):
            return
        job = by_name[name]
        response = send(runner_url, scheduler_request(job.model, tick, job.job, job.path),
                        job.retry)
        on_sent(job, tick, response.status_code)
        upcoming[name] = next_tick(job, tick)
