"""The local twin of Cloud Scheduler: the same request, at the same cron ticks, retried alike.

Cloud Scheduler POSTs the job body to the runner's ``/runs`` with
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

from pipelines.stack.config import ModelEntry, RetrySettings
from pipelines.stack.names import RUNS_ROUTE


@dataclass(frozen=True)
class SchedulerRequest:
    path: str
    body: bytes
    headers: dict[str, str]


def scheduler_request(model: str, schedule_time: dt.datetime, job_name: str) -> SchedulerRequest:
    """Exactly what Cloud Scheduler sends for a tick of ``model``'s job."""
    stamp = schedule_time.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SchedulerRequest(
        path=RUNS_ROUTE, body=json.dumps({"model": model}).encode(),
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


def next_tick(entry: ModelEntry, after: dt.datetime) -> dt.datetime:
    """The next time ``entry``'s cron fires after ``after``, in its time zone."""
    from croniter import croniter

    local = after.astimezone(zoneinfo.ZoneInfo(entry.time_zone))
    return croniter(entry.schedule, local).get_next(dt.datetime)


def run_schedule(entries: list[ModelEntry], runner_url: str, job_name: Callable[[str], str],
                 stop: threading.Event, on_sent: Callable[[str, dt.datetime, int], None],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
    """Fires each model's ticks until ``stop`` is set."""
    upcoming = {e.name: next_tick(e, now()) for e in entries}
    by_name = {e.name: e for e in entries}
    while not stop.is_set():
        model, tick = min(upcoming.items(), key=lambda item: item[1])
        if stop.wait(max(0.0, (tick - now()).total_seconds())):
            return
        entry = by_name[model]
        response = send(runner_url, scheduler_request(model, tick, job_name(model)), entry.retry)
        on_sent(model, tick, response.status_code)
        upcoming[model] = next_tick(entry, tick)
