"""Metric-driven canary on an endpoint's traffic split (Flagger / Argo Rollouts semantics).

A rollout starts when a candidate is deployed next to the stable model: by
``start`` here, or by a Pusher (the Vertex one deploys at the first step
weight), which the next ``tick`` adopts. Every ``tick`` at least
``interval_seconds`` after the last one reads, per deployed model id, the
requests logged since then: error rate (errors and NaN answers), latency p99,
the shift of the mean prediction against the stable model, and (when labels
were fed back) the labelled MSE against the stable one. Pass: the next weight.
Fail, or too few samples: ``failed += 1``; at ``failure_threshold`` failures or
past ``progress_deadline_minutes`` the rollout aborts. Promote: candidate 100 %,
then the stable model is undeployed. Abort: stable 100 %, the candidate is
undeployed, and why is recorded. State is saved after every step under an
exclusive lock (a file lock locally, a lease object in GCS on the cloud runner),
so a restarted controller resumes, concurrent ticks (CLI, runner route, a
retried Scheduler call) don't race, and a repeated tick never skips a step.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

from pipelines.canary.endpoint import EndpointOps
from pipelines.canary.policy import CanaryPolicy, first_traffic_split, window_problem
from pipelines.config.errors import FullcycleError


class RolloutStore(Protocol):
    """Where a rollout's state lives, and the lock that makes one tick at a time."""

    def exclusive(self) -> contextlib.AbstractContextManager: ...
    def load(self) -> dict | None: ...
    def save(self, state: dict) -> None: ...


class RolloutBusyError(FullcycleError):
    """Another controller holds the rollout's lock."""


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

    def __init__(self, endpoint: EndpointOps, policy: CanaryPolicy, store: RolloutStore):
        self.endpoint, self.policy, self.store = endpoint, policy, store
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
            candidate_id = self.endpoint.deploy(
                candidate, first_traffic_split([stable_id], self.policy.steps[0]))
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
            problem = window_problem(self.policy.settings, candidate, stable)
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
                past_deadline = (now - r.started
                                 > self.policy.settings.progress_deadline_minutes * 60)
                if r.failed >= self.policy.settings.failure_threshold or past_deadline:
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
