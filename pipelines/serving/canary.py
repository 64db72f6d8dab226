"""Metric-driven canary on an endpoint's traffic split (Flagger / Argo Rollouts semantics).

A rollout starts when a candidate is deployed next to the stable model: by
``start`` here, or by a Pusher (the Vertex one deploys at the first step
weight), which the next ``tick`` adopts. Every ``tick`` at least
``interval_seconds`` after the last one reads, per deployed model id, the
requests logged since then: error rate (errors and NaN answers), latency p99,
the shift of the mean prediction against the stable model, and (when labels
were fed back) the labelled MSE against the stable one. Pass: the next weight.
Fail, or too few samples: ``failed += 1``; at ``failure_threshold`` failures or
past ``progress_deadline_seconds`` the rollout aborts. Promote: candidate 100 %,
then the stable model is undeployed. Abort: stable 100 %, the candidate is
undeployed, and why is recorded. State is saved after every step under an
exclusive lock (a file lock locally, a lease object in GCS on the cloud runner),
so a restarted controller resumes, concurrent ticks (CLI, runner route, a
retried Scheduler call) don't race, and a repeated tick never skips a step.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from pipelines.config.errors import FullcycleError
from pipelines.serving.endpoint import WindowMetrics


class EndpointOps(Protocol):
    """What the controller needs of an endpoint: local, over HTTP, or Vertex AI."""

    def describe(self) -> dict: ...
    def deploy(self, model: str, split: dict[str, int]) -> str: ...
    def set_split(self, split: dict[str, int]) -> None: ...
    def undeploy(self, deployed_id: str) -> None: ...
    def window_metrics(self, deployed_id: str, since: float, until: float) -> WindowMetrics: ...


class RolloutStore(Protocol):
    """Where a rollout's state lives, and the lock that makes one tick at a time."""

    def exclusive(self) -> contextlib.AbstractContextManager: ...
    def load(self) -> dict | None: ...
    def save(self, state: dict) -> None: ...


class RolloutBusyError(FullcycleError):
    """Another controller holds the rollout's lock."""


class FileRolloutStore:
    """The state as a JSON file, locked with ``flock`` (one machine)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextlib.contextmanager
    def exclusive(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self) -> dict | None:
        return json.loads(self.path.read_text()) if self.path.exists() else None

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.path)


@dataclass(frozen=True)
class CanaryPolicy:
    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval_seconds: float = 600
    min_samples: int = 20
    failure_threshold: int = 2
    progress_deadline_seconds: float = 6 * 3600
    max_error_rate: float = 0.01
    max_latency_p99_ms: float = 500.0
    max_mean_shift: float = 0.5  # see prediction_shift
    max_mse_increase: float | None = None  # labelled: mse(candidate) - mse(stable)

    @classmethod
    def from_settings(cls, settings, interval_seconds: float | None = None) -> CanaryPolicy:
        """The policy of a stack's ``canary:`` block (``infra.config.CanarySettings``)."""
        return cls(steps=tuple(settings.steps),
                   interval_seconds=(settings.interval_minutes * 60 if interval_seconds is None
                                     else interval_seconds),
                   min_samples=settings.min_samples,
                   failure_threshold=settings.failure_threshold,
                   progress_deadline_seconds=settings.progress_deadline_minutes * 60,
                   max_error_rate=settings.max_error_rate,
                   max_latency_p99_ms=settings.max_latency_p99_ms,
                   max_mean_shift=settings.max_prediction_shift,
                   max_mse_increase=settings.max_mse_increase)


def prediction_shift(candidate: WindowMetrics, stable: WindowMetrics) -> float:
    """How far the candidate's mean prediction moved, in units of the stable model's spread.

    The spread is the stable predictions' standard deviation, floored at 10 % of
    their mean's magnitude so that near-constant predictors compare relatively.
    Same model, different requests: about 0.2 at 30 candidate samples.
    """
    scale = max(stable.std_prediction or 0.0, 0.1 * abs(stable.mean_prediction), 1e-9)
    return abs(candidate.mean_prediction - stable.mean_prediction) / scale


@dataclass
class Rollout:
    stable_id: str
    candidate_id: str
    started: float
    last_tick: float
    step: int = 0
    failed: int = 0
    status: str = "progressing"  # progressing | promoted | aborted
    reason: str | None = None
    history: list[dict] = field(default_factory=list)


class CanaryController:
    """Moves traffic from the stable model to a candidate, or back, one tick at a time."""

    def __init__(self, endpoint: EndpointOps, policy: CanaryPolicy,
                 state: Path | RolloutStore):
        """``state``: a JSON file path (locked with flock) or any :class:`RolloutStore`."""
        self.endpoint, self.policy = endpoint, policy
        self.store = FileRolloutStore(state) if isinstance(state, (str, Path)) else state
        self.rollout = self._load()

    def _load(self) -> Rollout | None:
        state = self.store.load()
        return None if state is None else Rollout(**state)

    def _save(self) -> None:
        self.store.save(asdict(self.rollout))

    @contextlib.contextmanager
    def _exclusive(self):
        """One controller at a time per rollout; the state is re-read inside the lock."""
        with self.store.exclusive():
            self.rollout = self._load()
            yield

    def _stable_id(self) -> str:
        split = self.endpoint.describe()["trafficSplit"]
        full = [i for i, w in split.items() if w == 100]
        if not full:
            raise FullcycleError(f"no deployed model takes 100 % of traffic (split {split}); "
                                 "a rollout starts from one stable model")
        return full[0]

    def start(self, candidate: str, now: float | None = None) -> Rollout:
        """Deploys ``candidate`` (a model) at the first step weight next to the stable model."""
        now = time.time() if now is None else now
        with self._exclusive():
            if self.rollout and self.rollout.status == "progressing":
                return self.rollout  # a retried start resumes the rollout under way
            stable_id = self._stable_id()
            first = self.policy.steps[0]
            candidate_id = self.endpoint.deploy(candidate, {"0": first, stable_id: 100 - first})
            self.rollout = Rollout(stable_id=stable_id, candidate_id=candidate_id, started=now,
                                   last_tick=now)
            self._save()
            return self.rollout

    def _adopt(self, now: float) -> bool:
        """Takes up a candidate a Pusher deployed next to the stable model; True if one was."""
        described = self.endpoint.describe()
        ids = [m["id"] for m in described["deployedModels"]]
        if len(ids) != 2 or (self.rollout and ids[1] == self.rollout.candidate_id):
            return False
        stable_id, candidate_id = ids  # in deploy order: the newer one is the candidate
        weight = described["trafficSplit"].get(candidate_id, 0)
        if weight in self.policy.steps[:-1]:
            step = self.policy.steps.index(weight)
        else:
            step, first = 0, self.policy.steps[0]
            self.endpoint.set_split({candidate_id: first, stable_id: 100 - first})
        self.rollout = Rollout(stable_id=stable_id, candidate_id=candidate_id, started=now,
                               last_tick=now, step=step)
        return True

    def _check(self, candidate: WindowMetrics, stable: WindowMetrics) -> str | None:
        """None if the candidate passes this window, else why not."""
        p = self.policy
        if candidate.samples < p.min_samples:
            return f"too few samples: {candidate.samples} < {p.min_samples}"
        if candidate.error_rate > p.max_error_rate:
            return f"error rate {candidate.error_rate:.3f} > {p.max_error_rate}"
        if candidate.latency_p99_ms > p.max_latency_p99_ms:
            return f"latency p99 {candidate.latency_p99_ms:.1f} ms > {p.max_latency_p99_ms}"
        if candidate.mean_prediction is not None and stable.mean_prediction is not None:
            shift = prediction_shift(candidate, stable)
            if shift > p.max_mean_shift:
                return f"prediction shift {shift:.3f} > {p.max_mean_shift}"
        if p.max_mse_increase is not None and candidate.mse is not None \
                and stable.mse is not None and candidate.mse - stable.mse > p.max_mse_increase:
            return (f"labelled mse {candidate.mse:.3f} vs stable {stable.mse:.3f} "
                    f"(allowed increase {p.max_mse_increase})")
        return None

    def tick(self, now: float | None = None) -> Rollout | None:
        """One analysis; a tick sooner than the interval after the last changes nothing."""
        now = time.time() if now is None else now
        with self._exclusive():
            if self.rollout is None or self.rollout.status != "progressing":
                if self._adopt(now):
                    self._save()
                return self.rollout
            r = self.rollout
            if now - r.last_tick < self.policy.interval_seconds:
                return r
            candidate = self.endpoint.window_metrics(r.candidate_id, r.last_tick, now)
            stable = self.endpoint.window_metrics(r.stable_id, r.last_tick, now)
            problem = self._check(candidate, stable)
            r.history.append({"at": now, "weight": self.policy.steps[r.step],
                              "result": problem or "pass", "candidate": asdict(candidate),
                              "stable": asdict(stable)})
            r.last_tick = now
            if problem is None:
                r.step += 1
                if r.step == len(self.policy.steps) or self.policy.steps[r.step] == 100:
                    self._promote()
                else:
                    w = self.policy.steps[r.step]
                    self.endpoint.set_split({r.candidate_id: w, r.stable_id: 100 - w})
            else:
                r.failed += 1
                past_deadline = now - r.started > self.policy.progress_deadline_seconds
                if r.failed >= self.policy.failure_threshold or past_deadline:
                    self._abort(problem if not past_deadline else f"progress deadline; {problem}")
            self._save()
            return r

    def _promote(self) -> None:
        r = self.rollout
        self.endpoint.set_split({r.candidate_id: 100})
        self.endpoint.undeploy(r.stable_id)
        r.status, r.step = "promoted", len(self.policy.steps) - 1

    def _abort(self, reason: str) -> None:
        r = self.rollout
        self.endpoint.set_split({r.stable_id: 100})
        self.endpoint.undeploy(r.candidate_id)
        r.status, r.reason = "aborted", reason
