"""Where a run goes: the :class:`Backend` protocol, and the local one (LocalDagRunner).

Both backends only *start* a run or a score; the runner answers 202 without
waiting for it. The Vertex AI backend is in ``vertex.py`` (its scores in
``vertex_scores.py``). Locally a score is ``fullcycle score`` of the model (the
served version, its whole source) in a process of its own, queued with the
model's runs, and recorded in a store of its own (``GET /runs`` lists runs only).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import queue
import threading
import time
from typing import Any, Protocol

from pipelines.runner.runs import RunView, is_tuning_id
from pipelines.runner.store import Run, RunStore


class Backend(Protocol):
    """Where runs go; the runner's API over either backend is the same (see ``runs.py``)."""

    name: str

    def submit(self, model: str, run_id: str, trigger: str,
               tuning: bool = False) -> tuple[RunView, bool]:
        """Starts run ``run_id`` of ``model``, or finds the one of that id: (run, created).

        ``tuning``: a run of the model's tuning pipeline (``run_id`` from
        :func:`~pipelines.runner.runs.tuning_id_for`). Raises if it could not be started;
        nothing half-started stays behind.
        """

    def get(self, run_id: str) -> RunView | None: ...

    def list(self, model: str | None = None, limit: int = 50) -> list[RunView]: ...

    def submit_score(self, model: str, score_id: str, trigger: str,
                     requested: dt.datetime) -> tuple[RunView, bool]:
        """Starts score ``score_id`` of ``model`` (``requested``: its schedule time, else
        now), or finds the one of that id: (score, created). Raises as ``submit``."""

    def get_score(self, score_id: str) -> RunView | None: ...


def _config_in_child(model: str, overrides: dict[str, Any], env: dict[str, str]):
    """In a run's own process: its environment, quiet libraries, and the model's config."""
    os.environ.update(env)
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import load_config, with_overrides

    config = load_config(model)
    return with_overrides(config, **overrides) if overrides else config


def run_model(model: str, overrides: dict[str, Any], stack: str,
              env: dict[str, str]) -> dict[str, Any]:
    """One local run of ``model`` (with its deploy), in this process: the summary as a dict."""
    config = _config_in_child(model, overrides, env)
    from pipelines.pipeline.local import run_local
    from pipelines.settings import Workspace

    return run_local(config, Workspace.from_env(), overrides=overrides, stack=stack).as_dict()


def tune_model(model: str, overrides: dict[str, Any], stack: str,
               env: dict[str, str]) -> dict[str, Any]:
    """One local tuning of ``model``, in this process: ``error`` and the ``tuning`` result."""
    config = _config_in_child(model, overrides, env)
    from pipelines.settings import Workspace
    from pipelines.workflows.tune import tune_local

    summary = tune_local(config, Workspace.from_env(), overrides=overrides)
    return {"error": summary.error, "tuning": {
        "result": summary.result, "new_result": summary.new_result,
        "seconds_per_trial": summary.seconds_per_trial, "log": summary.log}}


def score_model(model: str, stack: str, env: dict[str, str]) -> dict[str, Any]:
    """One local score of ``model`` with its served version, in this process: the summary."""
    config = _config_in_child(model, {}, env)
    from pipelines.settings import Workspace
    from pipelines.workflows.score import score

    summary = score(config, Workspace.from_env())
    return {"score_id": summary.score_id, "version": summary.version, "rows": summary.rows,
            "seconds": summary.seconds, "destination": summary.destination,
            "findings": summary.findings, "error": None}


def _child(conn, target, *args) -> None:
    try:
        conn.send(target(*args))
    except Exception as err:  # reported as the run's error; the runner keeps serving
        conn.send({"error": f"{type(err).__name__}: {err}"})
    finally:
        conn.close()


class LocalBackend:
    """Runs each pipeline with the library's ``run_local`` in a process of its own.

    One run per model at a time (others queue); different models run at once. A
    process per run, not a thread: TFX's launcher hook, ``sys.argv`` and
    TensorFlow's seeds are process-wide, and a finished run returns its memory.
    """

    name = "local"

    def __init__(self, store: RunStore, overrides: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, stack: str | None = None,
                 scores: RunStore | None = None):
        from pipelines.stack.config import default_stack

        self.store, self.overrides = store, dict(overrides or {})
        self.scores = scores or RunStore(store.path.with_name(f"{store.path.stem}-scores.sqlite"))
        self.env, self.stack = dict(env or {}), stack or default_stack()
        self._queues: dict[str, queue.Queue] = {}
        self._running: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Stops the runs under way and starts no more (their runs are marked CANCELLED)."""
        with self._lock:
            self._closed = True
            running = list(self._running.values())
        for process in running:
            process.terminate()
            process.join(timeout=30)

    def submit(self, model: str, run_id: str, trigger: str,
               tuning: bool = False) -> tuple[RunView, bool]:
        """Queues the run (a tuning: its id says so, see ``is_tuning_id``) behind the
        model's others; one run, tuning or score of a model at a time."""
        if tuning != is_tuning_id(run_id):
            raise ValueError(f"id {run_id!r} does not name a {'tuning' if tuning else 'run'}")
        return self._enqueue("tuning" if tuning else "run", self.store, model, run_id, trigger)

    def submit_score(self, model: str, score_id: str, trigger: str,
                     requested: dt.datetime) -> tuple[RunView, bool]:
        return self._enqueue("score", self.scores, model, score_id, trigger)

    def get_score(self, score_id: str) -> RunView | None:
        score = self.scores.get(score_id)
        return score.view() if score else None

    def _enqueue(self, kind: str, store: RunStore, model: str, run_id: str,
                 trigger: str) -> tuple[RunView, bool]:
        run, created = store.create_or_get(run_id, model, trigger)
        if not created:
            return run.view(), False
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the local backend is shut down")
                if model not in self._queues:
                    self._queues[model] = queue.Queue()
                    threading.Thread(target=self._worker, args=(model,), daemon=True,
                                     name=f"runner-{model}").start()
            self._queues[model].put((kind, run))
        except Exception:  # nothing half-started: forget the run, let a retry try
            store.delete(run_id)
            raise
        return run.view(), True

    def get(self, run_id: str) -> RunView | None:
        run = self.store.get(run_id)
        return None if run is None else run.view()

    def list(self, model: str | None = None, limit: int = 50) -> list[RunView]:
        return [r.view() for r in self.store.list(model, limit)]

    def _worker(self, model: str) -> None:
        while True:
            self._execute(*self._queues[model].get())

    def _execute(self, kind: str, run: Run) -> None:
        scoring = kind == "score"
        store = self.scores if scoring else self.store
        target, args = ((score_model, (run.model, self.stack, self.env)) if scoring else
                        (tune_model if kind == "tuning" else run_model,
                         (run.model, self.overrides, self.stack, self.env)))
        store.update(run.id, state="RUNNING", started=time.time())
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, name=f"run-{run.id}", daemon=True,
                                  args=(send, target, *args))
        with self._lock:
            if self._closed:  # shut down while this run waited in the queue
                store.update(run.id, state="CANCELLED", finished=time.time(),
                             detail=json.dumps(
                                 {"error": "the runner shut down before the run started"}))
                return
            process.start()
            self._running[run.id] = process
        send.close()
        try:
            summary = receive.recv()
        except EOFError:
            summary = {"error": f"the run's process ended (exit code {process.exitcode}) "
                                "without a summary"}
        process.join()
        ok = summary.get("error") is None
        with self._lock:
            self._running.pop(run.id, None)
            cancelled = self._closed and not ok  # stopped by close()
        detail = summary if scoring else {
            "blessed": summary.get("blessed"), "pushed_path": summary.get("pushed_path"),
            "deployment": summary.get("deployment"), "pipeline_run_id": summary.get("run_id"),
            "error": summary.get("error"),
            **({"tuning": summary["tuning"]} if "tuning" in summary else {})}
        store.update(run.id, state="SUCCEEDED" if ok else "CANCELLED" if cancelled
                     else "FAILED", finished=time.time(), detail=json.dumps(detail),
                     link=summary.get("pushed_path") and f"file://{summary['pushed_path']}")
