"""Metric-driven canary on an endpoint's traffic split (Flagger / Argo Rollouts semantics).

A rollout starts when a candidate is deployed next to the stable model: by
``start`` here, or by a Pusher (the Vertex one deploys at the first step
weight), which the next ``tick`` adopts. Every ``tick`` at least
``DUE_FRACTION`` × ``interval_seconds`` after the last analysis reads, per
deployed model id, the requests logged since then: error rate (errors and NaN
answers), latency p99, the shift of the mean prediction against the stable
model, and (when labels were fed back) the labelled MSE against the stable one.
Pass: the next weight. Fail, or too few samples: ``failed += 1``; at
``failure_threshold`` failures or past ``progress_deadline_minutes`` the rollout
aborts. Promote: candidate 100 %, then the stable model is undeployed. Abort:
stable 100 %, the candidate is undeployed, and why is recorded.

Every step is repeatable, so a tick killed between any two calls is finished by
the next one: the decision is saved before the endpoint is changed (status
``promoting`` / ``aborting``, or the next step), each tick starts by reconciling
the saved state with what the endpoint really serves (``describe``), finishes a
half-done promote or abort from there, and an undeploy of a model already gone
counts as done. An endpoint the controller cannot explain (three deployed
models, say) is answered ``needs_attention`` with the ids and what to do; the
next tick looks again. One tick at a time: the store's exclusive lock (a file
lock locally, a lease object in GCS on the cloud runner).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

from pipelines.canary.endpoint import EndpointError, EndpointOps
from pipelines.canary.policy import CanaryPolicy, first_traffic_split, window_problem
from pipelines.config.errors import FullcycleError

# A tick analyses once this share of the interval has passed: a Scheduler tick that
# arrives a little early (or a previous one that ran late) still analyses.
DUE_FRACTION = 0.8
ACTIVE = ("progressing", "promoting", "aborting")


class RolloutStore(Protocol):
    """Where a rollout's state lives, and the lock that makes one tick at a time."""

    def exclusive(self) -> contextlib.AbstractContextManager: ...
    def load(self) -> dict | None: ...
    def save(self, state: dict) -> None: ...


class RolloutBusyError(FullcycleError):
    """Another controller (or a push) holds the rollout's lock; ``holder`` says who, when known."""

    def __init__(self, message: str, holder: str | None = None):
        super().__init__(message)
        self.holder = holder


@dataclass
class Rollout:
    stable_id: str
    candidate_id: str
    started: float
    last_tick: float
    step: int = 0
    failed: int = 0
    # progressing | promoting | aborting (decided, endpoint being changed) | promoted |
    # aborted; needs_attention is answered, never saved: the next tick looks again
    status: str = "progressing"
    reason: str | None = None
    history: list[dict] = field(default_factory=list)
    deployed_ids: list[str] | None = None  # with needs_attention: what the endpoint serves


class CanaryController:
    """Moves traffic from the stable model to a candidate, or back, one tick at a time."""

    def __init__(self, endpoint: EndpointOps, policy: CanaryPolicy, store: RolloutStore):
        self.endpoint, self.policy, self.store = endpoint, policy, store
        self.rollout = self._load()

    def _load(self) -> Rollout | None:
        state = self.store.load()
        if state is None:
            return None
        known = {f.name for f in dataclasses.fields(Rollout)}
        return Rollout(**{k: v for k, v in state.items() if k in known})

    def _save(self) -> None:
        self.store.save(asdict(self.rollout))

    @contextlib.contextmanager
    def _exclusive(self):
        """One controller at a time per rollout; the state is re-read inside the lock."""
        with self.store.exclusive():
            self.rollout = self._load()
            yield

    def start(self, candidate: str, now: float | None = None) -> Rollout:
        """Deploys ``candidate`` (a model) at the first step weight next to the stable model."""
        now = time.time() if now is None else now
        with self._exclusive():
            if self.rollout and self.rollout.status in ACTIVE:
                return self.rollout  # a retried start resumes the rollout under way
            split = self.endpoint.describe()["trafficSplit"]
            full = [i for i, w in split.items() if w == 100]
            if not full:
                raise FullcycleError(f"no deployed model takes 100 % of traffic (split {split});"
                                     " a rollout starts from one stable model")
            candidate_id = self.endpoint.deploy(
                candidate, first_traffic_split(full, self.policy.steps[0]))
            self.rollout = Rollout(stable_id=full[0], candidate_id=candidate_id, started=now,
                                   last_tick=now)
            self._save()
            return self.rollout

    def tick(self, now: float | None = None) -> Rollout | None:
        """Reconciles with the endpoint, then one analysis if one is due."""
        now = time.time() if now is None else now
        with self._exclusive():
            attention = self._reconcile(self.endpoint.describe(), now)
            if attention is not None:
                return attention
            r = self.rollout
            if r is None or r.status != "progressing" \
                    or now - r.last_tick < DUE_FRACTION * self.policy.interval_seconds:
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
                    r.status, r.step = "promoting", len(self.policy.steps) - 1
            else:
                r.failed += 1
                past_deadline = (now - r.started
                                 > self.policy.settings.progress_deadline_minutes * 60)
                if r.failed >= self.policy.settings.failure_threshold or past_deadline:
                    r.status = "aborting"
                    r.reason = problem if not past_deadline else f"progress deadline; {problem}"
            self._save()  # the decision first: a kill from here on is finished by the next tick
            self._apply(self.endpoint.describe()["trafficSplit"])
            return r

    # -- making the endpoint match the saved state (every call repeatable) -------------
    def _apply(self, split: dict[str, int]) -> None:
        """Moves the endpoint to what the saved state says; saves when a status ends."""
        r = self.rollout
        if r.status == "progressing":
            w = self.policy.steps[r.step]
            if split.get(r.candidate_id, 0) != w:
                self.endpoint.set_split({r.candidate_id: w, r.stable_id: 100 - w})
            return
        keep, drop = ((r.candidate_id, r.stable_id) if r.status == "promoting"
                      else (r.stable_id, r.candidate_id))
        if split.get(keep, 0) != 100:
            self.endpoint.set_split({keep: 100})
        self._undeploy(drop)
        r.status = "promoted" if r.status == "promoting" else "aborted"
        self._save()

    def _undeploy(self, deployed_id: str) -> None:
        try:
            self.endpoint.undeploy(deployed_id)
        except EndpointError as err:
            if err.status != 404:  # already gone: what this step wanted
                raise

    def _attention(self, ids: list[str], split: dict[str, int], why: str) -> Rollout:
        """The answer for an endpoint the controller cannot explain (not saved)."""
        base = self.rollout
        return Rollout(stable_id=base.stable_id if base else "",
                       candidate_id=base.candidate_id if base else "",
                       started=base.started if base else 0.0,
                       last_tick=base.last_tick if base else 0.0,
                       step=base.step if base else 0, failed=base.failed if base else 0,
                       status="needs_attention", history=base.history if base else [],
                       deployed_ids=ids,
                       reason=f"{why}: deployed models {ids}, traffic split {split}. Nothing "
                              "was changed. Undeploy the model(s) that should not serve, so that "
                              "the endpoint serves one stable model (or a stable model and one "
                              "candidate); the next tick resumes from there.")

    def _reconcile(self, described: dict, now: float) -> Rollout | None:
        """Finishes what a killed tick left half-done; adopts a pushed candidate.

        Returns a ``needs_attention`` answer when the endpoint cannot be explained.
        """
        ids = [m["id"] for m in described["deployedModels"]]
        split = described["trafficSplit"]
        r = self.rollout
        if r is not None and r.status in ACTIVE:
            pair = (r.stable_id, r.candidate_id)
            if all(i in ids for i in pair):
                if len(ids) > 2:
                    return self._attention(ids, split, f"a rollout of candidate {r.candidate_id}"
                                           f" next to stable {r.stable_id} is under way, but "
                                           f"{len(ids)} models are deployed")
                self._apply(split)
                return None
            self._ended_outside(ids)
            self._save()
        if len(ids) <= 1:
            return None
        if len(ids) > 2:
            return self._attention(ids, split, f"{len(ids)} models are deployed; a canary "
                                               "handles one stable model and one candidate")
        stable_id, candidate_id = ids  # in deploy order: the newer one is the candidate
        weight, steps = split.get(candidate_id, 0), self.policy.steps
        if weight in steps[:-1] and split.get(stable_id, 0) == 100 - weight:
            step = steps.index(weight)
        else:
            step = 0
            self.endpoint.set_split({candidate_id: steps[0], stable_id: 100 - steps[0]})
        self.rollout = Rollout(stable_id=stable_id, candidate_id=candidate_id, started=now,
                               last_tick=now, step=step)
        self._save()
        return None

    def _ended_outside(self, ids: list[str]) -> None:
        """The saved rollout's stable or candidate model is gone: it has ended; how."""
        r = self.rollout
        stable, candidate = r.stable_id in ids, r.candidate_id in ids
        if candidate and r.status == "promoting":
            r.status = "promoted"  # the stable model was undeployed; the save was lost
        elif stable and r.status == "aborting":
            r.status = "aborted"  # the candidate was undeployed; the save was lost
        elif candidate:
            r.status, r.reason = "promoted", (
                f"stable {r.stable_id} was undeployed outside the canary while it was "
                f"{r.status}; candidate {r.candidate_id} serves on" + (
                    f" (it had failed: {r.reason})" if r.reason else ""))
        elif stable:
            r.status, r.reason = "aborted", (
                f"candidate {r.candidate_id} was undeployed outside the canary while it was "
                f"{r.status}" + (f" ({r.reason})" if r.reason else ""))
        else:
            r.status, r.reason = "aborted", (
                f"neither stable {r.stable_id} nor candidate {r.candidate_id} is deployed any "
                f"more (the endpoint serves {ids})")
        if r.status == "promoted":
            r.step = len(self.policy.steps) - 1
