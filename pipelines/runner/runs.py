"""A run as the runner's callers see it: its id, its state, its JSON.

The contract of ``POST /runs``, ``GET /runs/{id}`` and ``GET /runs?model=`` (Cloud
Scheduler, Airflow, people), the same on both backends:

- The run id is deterministic, so a retried or duplicated request anywhere
  answers the run the first one started: from ``Idempotency-Key`` (any caller;
  the same key and model always name one run), else from
  ``X-CloudScheduler-ScheduleTime`` (a scheduled tick), else new. On Vertex AI
  the run id *is* the PipelineJob id; the job is the only record of the run.
- States: ``QUEUED`` (accepted, not started), ``RUNNING``, then one of
  ``SUCCEEDED``, ``FAILED``, ``CANCELLED`` (:data:`FINISHED`).
- A run is the JSON of :class:`RunView`; ``POST /runs`` adds ``duplicate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field

from pipelines.config.errors import FullcycleError
from pipelines.stack.names import slug

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
IDEMPOTENCY_KEY = "Idempotency-Key"
SCHEDULE_TIME = "X-CloudScheduler-ScheduleTime"
TRIGGERS = ("scheduler", "api", "manual")  # schedule time, idempotency key, neither
MAX_KEY_LENGTH = 255

# Vertex AI's PipelineState -> the runner's states
VERTEX_STATES = {
    "PIPELINE_STATE_UNSPECIFIED": "QUEUED", "PIPELINE_STATE_QUEUED": "QUEUED",
    "PIPELINE_STATE_PENDING": "QUEUED", "PIPELINE_STATE_RUNNING": "RUNNING",
    "PIPELINE_STATE_CANCELLING": "RUNNING", "PIPELINE_STATE_PAUSED": "RUNNING",
    "PIPELINE_STATE_SUCCEEDED": "SUCCEEDED", "PIPELINE_STATE_FAILED": "FAILED",
    "PIPELINE_STATE_CANCELLED": "CANCELLED",
}

# Vertex AI's JobState (batch prediction jobs: the cloud scores) -> the runner's states
VERTEX_JOB_STATES = {
    "JOB_STATE_UNSPECIFIED": "QUEUED", "JOB_STATE_QUEUED": "QUEUED",
    "JOB_STATE_PENDING": "QUEUED", "JOB_STATE_RUNNING": "RUNNING",
    "JOB_STATE_CANCELLING": "RUNNING", "JOB_STATE_PAUSED": "RUNNING",
    "JOB_STATE_UPDATING": "RUNNING", "JOB_STATE_SUCCEEDED": "SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "SUCCEEDED", "JOB_STATE_FAILED": "FAILED",
    "JOB_STATE_EXPIRED": "FAILED", "JOB_STATE_CANCELLED": "CANCELLED",
}


class BadRunRequestError(FullcycleError):
    """A header of ``POST /runs`` the runner cannot use (400)."""


@dataclass(frozen=True)
class RunView:
    """One run, as ``GET /runs/{id}`` answers it (times: seconds since the epoch, UTC)."""

    run_id: str
    model: str
    state: str  # one of STATES
    trigger: str  # one of TRIGGERS
    created: float | None
    started: float | None = None
    finished: float | None = None
    link: str | None = None  # the Vertex AI console page, or the pushed model locally
    pushed_version: str | None = None  # when the run's pusher deployed a version
    deployment: str | None = None  # what the push did, e.g. "not deployed: rollout in ..."
    error: str | None = None  # why it failed
    detail: dict = field(default_factory=dict)  # backend-specific extras

    def as_dict(self) -> dict:
        return asdict(self)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


# RFC 3339: any number of fractional digits (Python 3.10's fromisoformat takes 3 or 6)
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)?")


def rfc3339_seconds(stamp: str) -> float | None:
    """An RFC 3339 time as seconds since the epoch; None when it has no time zone.

    Raises:
        ValueError: ``stamp`` is not such a time.
    """
    found = _RFC3339.fullmatch(stamp.strip())
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    whole, fraction, zone = found.groups()
    if zone is None:
        return None
    zone = "+00:00" if zone in "Zz" else zone
    seconds = dt.datetime.fromisoformat(whole.replace("t", "T") + zone).timestamp()
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


def schedule_seconds(schedule_time: str) -> float:
    """``X-CloudScheduler-ScheduleTime`` (RFC 3339) as seconds; a clear error if it is not."""
    try:
        seconds = rfc3339_seconds(schedule_time)
    except ValueError:
        raise BadRunRequestError(f"header {SCHEDULE_TIME} {schedule_time!r} is not an RFC 3339 "
                            "time such as 2026-11-29T03:00:00Z") from None
    if seconds is None:
        raise BadRunRequestError(f"header {SCHEDULE_TIME} {schedule_time!r} has no time zone; "
                            "send UTC, e.g. 2026-11-29T03:00:00Z")
    return seconds


def run_id_for(model: str, schedule_time: str | None = None,
               idempotency_key: str | None = None) -> tuple[str, str]:
    """(run id, trigger) of a request for ``model``; also the Vertex AI PipelineJob id.

    ``fullcycle-<model>-`` then ``k`` + a digest of the idempotency key, ``s`` + one
    of the schedule time, or ``m`` + a random id (lowercase, digits, dashes).
    """
    prefix = f"fullcycle-{slug(model)}-"
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= MAX_KEY_LENGTH or not all(
                " " <= c <= "~" for c in idempotency_key):
            raise BadRunRequestError(f"header {IDEMPOTENCY_KEY} {idempotency_key[:80]!r} must be "
                                f"1-{MAX_KEY_LENGTH} printable ASCII characters")
        return prefix + "k" + _digest(model, "key", idempotency_key), "api"
    if schedule_time is not None:
        seconds = schedule_seconds(schedule_time)
        return prefix + "s" + _digest(model, "schedule", f"{seconds:.3f}"), "scheduler"
    return prefix + "m" + uuid.uuid4().hex[:20], "manual"


def tuning_id_for(model: str, idempotency_key: str | None = None) -> tuple[str, str]:
    """(tuning id, trigger) of a ``POST /tunings`` for ``model``; also its PipelineJob id.

    As a run id (the key checked alike), with ``t`` + a digest of the key (or a random
    id) as its tail, so the same key names a run and a tuning apart and the id alone
    tells a tuning (:func:`is_tuning_id`). Tunings are on demand: no schedule time.
    """
    _, trigger = run_id_for(model, None, idempotency_key)
    tail = (_digest(model, "tuning", idempotency_key) if idempotency_key is not None
            else uuid.uuid4().hex[:20])
    return f"fullcycle-{slug(model)}-t{tail}", trigger


_TUNING_TAIL = re.compile(r"-t[0-9a-f]{20}")


def is_tuning_id(run_id: str) -> bool:
    """Whether ``run_id`` names a tuning (:func:`tuning_id_for`), not a run."""
    return run_id.startswith("fullcycle-") and _TUNING_TAIL.fullmatch(run_id[-22:]) is not None


def score_id_for(model: str, schedule_time: str | None = None,
                 idempotency_key: str | None = None) -> tuple[str, str]:
    """(score id, trigger) of a ``POST /scores`` for ``model``: as a run id, from the same
    headers, but ``score-<model>-...`` (at most 63 characters: a label value on Vertex AI)."""
    run_id, trigger = run_id_for(model, schedule_time, idempotency_key)
    return "score-" + run_id.removeprefix("fullcycle-"), trigger
