"""Where a run goes: Vertex AI Pipelines (cloud) or a local LocalDagRunner process.

Both only *start* the run; the runner answers 202 without waiting for it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from pipelines.runner.store import Run, RunStore


class Backend(Protocol):
    name: str

    def submit(self, run: Run) -> None:
        """Starts ``run`` (raises if it could not be started)."""


class LocalBackend:
    """Runs each pipeline as a ``fullcycle run`` process; one run per model at a time."""

    name = "local"

    def __init__(self, store: RunStore, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None):
        self.store, self.extra_args = store, list(extra_args or [])
        self.env = {**os.environ, **(env or {})}
        self._queues: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()

    def submit(self, run: Run) -> None:
        with self._lock:
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
        with tempfile.TemporaryDirectory() as tmp:
            summary_file = Path(tmp) / "summary.json"
            cmd = [sys.executable, "-m", "pipelines.cli.main", "run", run.model,
                   "--json", str(summary_file), *self.extra_args]
            done = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
            summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        ok = done.returncode == 0
        detail = {"blessed": summary.get("blessed"), "pushed_path": summary.get("pushed_path"),
                  "pipeline_run_id": summary.get("run_id"),
                  "error": None if ok else (summary.get("error") or done.stderr[-2000:])}
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

        from pipelines.cloud.vertex import CloudTarget, compile_pipeline
        from pipelines.config.registry import load_config
        from pipelines.pipeline.factory import pipeline_name

        target = CloudTarget.from_stack(run.model, self.stack)
        name = pipeline_name(run.model)
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "pipeline.json"
            compile_pipeline(load_config(run.model), target, spec)
            job = aiplatform.PipelineJob(
                display_name=name, template_path=str(spec), job_id=f"{name}-{run.id}",
                pipeline_root=target.pipeline_root, enable_caching=False,
                labels={**target.labels, "trigger": run.trigger},
                project=target.project, location=target.region, credentials=self.credentials)
            job.submit(service_account=target.service_account)
        self.store.update(run.id, state="SUBMITTED", started=time.time(), link=(
            f"https://console.cloud.google.com/vertex-ai/locations/{target.region}/pipelines/"
            f"runs/{name}-{run.id}?project={target.project}"))
