"""Where a run goes: Vertex AI Pipelines (cloud) or a local LocalDagRunner process.

Both only *start* the run; the runner answers 202 without waiting for it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from pipelines.runner.store import Run, RunStore


class Backend(Protocol):
    name: str

    def submit(self, run: Run) -> None:
        """Starts ``run`` (raises if it could not be started)."""


def run_model(model: str, overrides: dict[str, Any], stack: str,
              env: dict[str, str]) -> dict[str, Any]:
    """One local run of ``model`` (with its deploy), in this process: the summary as a dict."""
    os.environ.update(env)
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import load_config, with_overrides
    from pipelines.pipeline.local import run_local
    from pipelines.settings import Workspace

    config = load_config(model)
    if overrides:
        config = with_overrides(config, **overrides)
    return run_local(config, Workspace.from_env(), overrides=overrides, stack=stack).as_dict()


def _child(conn, *args) -> None:
    try:
        conn.send(run_model(*args))
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
                 env: dict[str, str] | None = None, stack: str | None = None):
        from pipelines.stack.config import default_stack

        self.store, self.overrides = store, dict(overrides or {})
        self.env, self.stack = dict(env or {}), stack or default_stack()
        self._queues: dict[str, queue.Queue] = {}
        self._running: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Stops the runs under way and starts no more (their runs are marked FAILED)."""
        with self._lock:
            self._closed = True
            running = list(self._running.values())
        for process in running:
            process.terminate()
            process.join(timeout=30)

    def submit(self, run: Run) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the local backend is shut down")
            if run.model not in self._queues:
                self._queues[run.model] = queue.Queue()
                threading.Thread(target=self._worker, args=(run.model,), daemon=True,
                                 name=f"runner-{run.model}").start()
        self._queues[run.model].put(run)

    def _worker(self, model: str) -> None:
        while True:
            self._execute(self._queues[model].get())

    def _execute(self, run: Run) -> None:
        self.store.update(run.id, state="RUNNING", started=time.time())
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, name=f"run-{run.id}", daemon=True,
                                  args=(send, run.model, self.overrides, self.stack, self.env))
        with self._lock:
            if self._closed:  # shut down while this run waited in the queue
                self.store.update(run.id, state="FAILED", finished=time.time(), detail=json.dumps(
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
        with self._lock:
            self._running.pop(run.id, None)
        ok = summary.get("error") is None
        detail = {"blessed": summary.get("blessed"), "pushed_path": summary.get("pushed_path"),
                  "deployment": summary.get("deployment"),
                  "pipeline_run_id": summary.get("run_id"), "error": summary.get("error")}
        self.store.update(run.id, state="SUCCEEDED" if ok else "FAILED", finished=time.time(),
                          detail=json.dumps(detail),
                          link=summary.get("pushed_path") and f"file://{summary['pushed_path']}")


class VertexBackend:
    """Compiles the model's pipeline and submits it to Vertex AI Pipelines."""

    name = "vertex"

    def __init__(self, store: RunStore, stack: str, credentials=None):
        self.store, self.stack, self.credentials = store, stack, credentials

    def submit(self, run: Run) -> None:
        from google.cloud import aiplatform

        from pipelines.cloud.compile import compile_pipeline, read_cloud_baseline
        from pipelines.cloud.target import CloudTarget
        from pipelines.config.registry import load_config
        from pipelines.pipeline.factory import pipeline_name

        target = CloudTarget.from_stack(run.model, self.stack)
        name = pipeline_name(run.model)
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "pipeline.json"
            compile_pipeline(load_config(run.model), target, spec,
                             baseline=read_cloud_baseline(target, self.credentials))
            job = aiplatform.PipelineJob(
                display_name=name, template_path=str(spec), job_id=f"{name}-{run.id}",
                pipeline_root=target.pipeline_root, enable_caching=False,
                labels={**target.labels, "trigger": run.trigger},
                project=target.project, location=target.region, credentials=self.credentials)
            job.submit(service_account=target.service_account)
        self.store.update(run.id, state="SUBMITTED", started=time.time(), link=(
            f"https://console.cloud.google.com/vertex-ai/locations/{target.region}/pipelines/"
            f"runs/{name}-{run.id}?project={target.project}"))
