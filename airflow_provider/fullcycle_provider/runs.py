"""What the operator, the sensor and the trigger share: the idempotency key, starting or
re-attaching to a run, waiting in the worker, and judging a finished run.

The key is derived from the task instance (DAG, DAG run, task, map index) and a
generation. A new try first offers generation 0: a runner that honours the key
answers the run it already has for it. A run still going is re-attached (the
worker that waited for it died; no second run starts); a finished one moves the
try to the next generation, i.e. a new run. A try never goes past generation
``try_number - 1``, so each try starts at most one run. A runner that ignores the
header starts a new run on every try.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

from fullcycle_provider import states
from fullcycle_provider.compat import AirflowException


def seconds(value: float | timedelta, name: str) -> float:
    """``value`` (seconds or a timedelta) as positive seconds; ``name`` is for the error."""
    total = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, "
                         f"got {value!r}")
    return float(total)


def idempotency_key(ti: Any, generation: int) -> str:
    """A stable key for (DAG, DAG run, task, map index, ``generation``): 64 hex characters."""
    parts = (ti.dag_id, ti.run_id, ti.task_id, str(getattr(ti, "map_index", -1)),
             str(generation))
    return "airflow-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:56]


def start_or_attach(hook: Any, model: str, overrides: dict | None, ti: Any,
                    log: Any) -> dict[str, Any]:
    """The runner's answer for this try: a new run, or the earlier try's run still going."""
    last_generation = max(int(getattr(ti, "try_number", 1) or 1), 1) - 1
    for generation in range(last_generation + 1):
        answer = hook.trigger_run(model, idempotency_key(ti, generation), overrides)
        if not answer.get("duplicate") or generation == last_generation:
            break
        state = answer.get("state") or hook.get_run(answer["run_id"]).get("state")
        if states.is_waiting(state):
            log.info("run %s of %r (started by an earlier try) is %s: waiting for it, "
                     "not starting another", answer["run_id"], model, state)
            break
        log.info("run %s of %r (started by an earlier try) ended %s: starting a new run",
                 answer["run_id"], model, state)
    if answer.get("duplicate"):
        log.info("the runner answered run %s it already had for this key", answer["run_id"])
    if overrides and answer.get("overrides") != overrides:
        log.warning("the runner did not confirm the overrides %s: run %s goes with the "
                    "runner's own settings", overrides, answer["run_id"])
    return answer


def check_finished(run: dict[str, Any]) -> str:
    """The run id when ``run`` SUCCEEDED; otherwise the error the task fails with."""
    state, run_id = run.get("state"), run.get("id") or run.get("run_id")
    outcome = states.outcome(state)
    if outcome == "success":
        return run_id
    if outcome == "unknown":
        raise AirflowException(f"fullcycle run {run_id} of {run.get('model')!r}: "
                               + states.describe_unknown(state))
    if outcome == "waiting":
        raise AirflowException(f"fullcycle run {run_id} of {run.get('model')!r} is still "
                               f"{state}: it has not finished")
    detail = run.get("detail") or {}
    reason = detail.get("error") if isinstance(detail, dict) else detail
    where = f"; see {run['link']}" if run.get("link") else ""
    raise AirflowException(f"fullcycle run {run_id} of {run.get('model')!r} ended {state}"
                           + (f": {reason}" if reason else "") + where)


def timeout_error(run: dict[str, Any], timeout: float) -> AirflowException:
    """The error for a run that was still going when the task stopped waiting."""
    run_id = run.get("id") or run.get("run_id")
    return AirflowException(
        f"fullcycle run {run_id} of {run.get('model')!r} is still {run.get('state')} after "
        f"{timeout:g} s (the task's timeout); the run goes on on the runner (it has no cancel)")


def wait_in_worker(hook: Any, run_id: str, poll_interval: float, deadline: float,
                   timeout: float, log: Any) -> dict[str, Any]:
    """Polls ``GET /runs/{id}`` until the run ends (or its state is unknown) or ``deadline``."""
    while True:
        run = hook.get_run(run_id)
        if states.is_terminal(run.get("state")):
            return run
        left = deadline - time.time()
        if left <= 0:
            raise timeout_error(run, timeout)
        log.info("run %s of %r is %s; next look in %g s", run_id, run.get("model"),
                 run.get("state"), min(poll_interval, left))
        time.sleep(min(poll_interval, left))
