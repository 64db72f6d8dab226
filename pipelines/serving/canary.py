"""Metric-driven canary on an endpoint's traffic split (Flagger / Argo Rollouts semantics).

``start`` deploys the candidate at the first step weight. Every ``tick`` at
least ``interval_seconds`` after the last one reads, per deployed model id, the
requests logged since then: error rate (errors and NaN answers), latency p99,
the shift of the mean prediction against the stable model, and (when labels
were fed back) the labelled MSE against the stable one. Pass: the next weight.
Fail, or too few samples: ``failed += 1``; at ``failure_threshold`` failures or
past ``progress_deadline_seconds`` the rollout aborts. Promote: candidate 100 %,
then the stable model is undeployed. Abort: stable 100 %, the candidate is
undeployed, and why is recorded. State is saved after every step, so a
restarted controller resumes, and a repeated tick never skips a step.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.serving.endpoint import LocalEndpoint


@dataclass(frozen=True)
class CanaryPolicy:
    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval_seconds: float = 600
    min_samples: int = 20
    failure_threshold: int = 2
    progress_deadline_seconds: float = 6 * 3600
    max_error_rate: float = 0.01
    max_latency_p99_ms: float = 500.0
    max_mean_shift: float = 0.5  # |mean(candidate) - mean(stable)| / (|mean(stable)| + 1)
    max_mse_increase: float | None = None  # labelled: mse(candidate) - mse(stable)


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


@dataclass
class WindowMetrics:
    samples: int
    error_rate: float
    latency_p99_ms: float
    mean_prediction: float | None
    mse: float | None


def _first_number(predictions) -> float | None:
    while isinstance(predictions, list) and predictions:
        predictions = predictions[0]
    return predictions if isinstance(predictions, (int, float)) else None


def window_metrics(endpoint: LocalEndpoint, deployed_id: str, since: float,
                   until: float) -> WindowMetrics:
    """Metrics of one deployed model over the requests logged in [since, until)."""
    rows = endpoint.log.query(
        "SELECT r.predictions, r.latency_ms, r.error, f.labels FROM requests r "
        "LEFT JOIN feedback f USING (request_id) "
        "WHERE r.deployed_model_id = ? AND r.ts >= ? AND r.ts < ?", [deployed_id, since, until])
    if not rows:
        return WindowMetrics(0, 0.0, 0.0, None, None)
    latencies = sorted(r[1] for r in rows)
    p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
    values, errors, squared = [], 0, []
    for predictions, _, error, labels in rows:
        errors += error is not None
        value = _first_number(json.loads(predictions)) if predictions else None
        if value is not None:
            values.append(value)
            if labels:
                squared.append((value - _first_number(json.loads(labels))) ** 2)
    return WindowMetrics(len(rows), errors / len(rows), p99,
                         sum(values) / len(values) if values else None,
                         sum(squared) / len(squared) if squared else None)


class CanaryController:
    """Moves traffic from the stable model to a candidate, or back, one tick at a time."""

    def __init__(self, endpoint: LocalEndpoint, policy: CanaryPolicy, state_path: Path):
        self.endpoint, self.policy, self.state_path = endpoint, policy, state_path
        self.rollout = (Rollout(**json.loads(state_path.read_text()))
                        if state_path.exists() else None)

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(self.rollout)))
        tmp.replace(self.state_path)

    def start(self, candidate_path: str, now: float | None = None) -> Rollout:
        """Deploys the candidate at the first step weight next to the stable model."""
        now = time.time() if now is None else now
        if self.rollout and self.rollout.status == "progressing":
            return self.rollout  # a retried start resumes the rollout under way
        (stable_id,) = [i for i, w in self.endpoint.state.traffic_split.items() if w == 100]
        first = self.policy.steps[0]
        candidate_id = self.endpoint.deploy(candidate_path, {"0": first, stable_id: 100 - first})
        self.rollout = Rollout(stable_id=stable_id, candidate_id=candidate_id, started=now,
                               last_tick=now)
        self._save()
        return self.rollout

    def _check(self, since: float, now: float) -> str | None:
        """None if the candidate passes this window, else why not."""
        p, r = self.policy, self.rollout
        candidate = window_metrics(self.endpoint, r.candidate_id, since, now)
        stable = window_metrics(self.endpoint, r.stable_id, since, now)
        if candidate.samples < p.min_samples:
            return f"too few samples: {candidate.samples} < {p.min_samples}"
        if candidate.error_rate > p.max_error_rate:
            return f"error rate {candidate.error_rate:.3f} > {p.max_error_rate}"
        if candidate.latency_p99_ms > p.max_latency_p99_ms:
            return f"latency p99 {candidate.latency_p99_ms:.1f} ms > {p.max_latency_p99_ms}"
        if candidate.mean_prediction is not None and stable.mean_prediction is not None:
            shift = abs(candidate.mean_prediction - stable.mean_prediction) / (
                abs(stable.mean_prediction) + 1)
            if shift > p.max_mean_shift:
                return f"prediction shift {shift:.3f} > {p.max_mean_shift}"
        if p.max_mse_increase is not None and candidate.mse is not None \
                and stable.mse is not None and candidate.mse - stable.mse > p.max_mse_increase:
            return f"labelled mse {candidate.mse:.3f} vs stable {stable.mse:.3f}"
        return None

    def tick(self, now: float | None = None) -> Rollout:
        """One analysis; a tick sooner than the interval after the last changes nothing."""
        now = time.time() if now is None else now
        r = self.rollout
        if r is None or r.status != "progressing":
            return r
        if now - r.last_tick < self.policy.interval_seconds:
            return r
        problem = self._check(r.last_tick, now)
        weight = self.policy.steps[r.step]
        r.history.append({"at": now, "weight": weight, "result": problem or "pass"})
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
