"""A rehearsal: the model's compiled Vertex AI pipeline executed here, against emulators.

:class:`Rehearsal` starts the emulators, a gateway per identity (the model's service
account for the tasks, the runner's for what the runner does) and the local Vertex AI,
creates the model's bucket and loads its source table from the DuckDB warehouse into
BigQuery. :meth:`Rehearsal.run` then does what a scheduled run does: the runner reads
the baseline from the bucket and compiles the spec (``compile_pipeline`` as the runner's
Vertex backend calls it), and the spec's tasks run as Vertex AI Pipelines would run them
(:mod:`tests.rehearsal.walker`). The outcome: a line per task, what the local Vertex AI
holds after the Pusher, and every Google API call in ``calls.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.rehearsal.batch_jobs import ExecutingBatchPrediction
from tests.rehearsal.emulators import PROJECT_ROOT, Emulators, load_table, source_tables
from tests.rehearsal.gateway import CallLog, Gateway, make_ca
from tests.rehearsal.vertex_server import VertexServer
from tests.rehearsal.walker import ArtifactRecord, TaskResult, Walk, write_log
from tests.support.google_http import project_number

SITE = Path(__file__).resolve().parent / "site"
TASK_TIMEOUT = 1800


@dataclass
class RunReport:
    """One rehearsed pipeline job: its tasks, what the Pusher left on Vertex AI."""

    job_id: str
    tasks: list[TaskResult]
    vertex: dict
    seconds: float
    refused: list[str] = field(default_factory=list)

    def task(self, name: str) -> TaskResult:
        return next(t for t in self.tasks if t.name == name)

    def metadata(self, task: str, key: str) -> dict:
        artifacts = self.task(task).outputs.get(key) or [{}]
        return artifacts[0].get("metadata", {})

    @property
    def succeeded(self) -> bool:
        return all(t.state == "SUCCEEDED" for t in self.tasks)

    def problems(self) -> list[str]:
        """What a user would want to know went wrong, in words."""
        found = [f"{t.name} {t.state}: {t.error}" for t in self.tasks if t.state == "FAILED"]
        infra = self.metadata("InfraValidator", "blessing") if any(
            t.name == "InfraValidator" and t.state == "SUCCEEDED" for t in self.tasks) else {}
        if infra and infra.get("blessed") != 1:
            result = json.loads(infra.get("result") or "{}")
            found.append(f"InfraValidator did not bless the model: {result.get('reason')}")
        blessing = self.metadata("Evaluator", "blessing") if any(
            t.name == "Evaluator" and t.state == "SUCCEEDED" for t in self.tasks) else {}
        pushed = self.metadata("Pusher", "pushed_model") if any(
            t.name == "Pusher" and t.state == "SUCCEEDED" for t in self.tasks) else {}
        if pushed and pushed.get("pushed") != 1 and blessing.get("blessed") == 1:
            found.append("Pusher recorded pushed=0 for a model the Evaluator blessed")
        found += [f"Vertex AI refused: {r}" for r in self.refused]
        return found

    def summary(self) -> dict:
        return {"job_id": self.job_id, "seconds": round(self.seconds, 1),
                "succeeded": self.succeeded, "problems": self.problems(),
                "tasks": [{"name": t.name, "state": t.state, "seconds": round(t.seconds, 1),
                           "error": t.error,
                           "outputs": {k: [{"uri": a["uri"], "metadata": a.get("metadata")}
                                           for a in v] for k, v in t.outputs.items()}}
                          for t in self.tasks],
                "vertex": self.vertex}


class Rehearsal:
    """Emulated Google Cloud for one model of one stack; rehearse it with :meth:`run`."""

    def __init__(self, model: str, stack: str, out: Path, warehouse: Path):
        from pipelines.cloud.target import CloudTarget
        from pipelines.stack.config import StackConfig
        from pipelines.stack.names import RUNNER_ACCOUNT

        self.model, self.stack, self.out, self.warehouse = model, stack, out, warehouse
        self.target = CloudTarget.from_stack(model, stack)
        config = StackConfig.load(stack)
        self.location = config.entry(model).bigquery_location
        self.runner_account = f"{RUNNER_ACCOUNT}@{self.target.project}.iam.gserviceaccount.com"
        out.mkdir(parents=True, exist_ok=True)
        (out / "calls.jsonl").write_text("")
        self.calls = CallLog(out / "calls.jsonl")
        self.record = ArtifactRecord()
        self._runs = 0
        self._stack = contextlib.ExitStack()
        try:
            self.emulators = Emulators(out / "emulators", self.target.project)
            self._stack.callback(self.emulators.close)
            self.vertex = VertexServer(self.target.endpoint or f"fc-{model}")
            self._stack.callback(self.vertex.close)
            certs = make_ca(out / "ca")
            upstreams = {**self.emulators.upstreams, "aiplatform": self.vertex.address}
            self.gateways = {who: Gateway(who, upstreams, self.calls, certs)
                             for who in (self.target.service_account, self.runner_account)}
            for gateway in self.gateways.values():
                self._stack.callback(gateway.close)
            self.vertex.batch = ExecutingBatchPrediction(
                self.target.project, self.target.region, self.vertex.registry,
                self.emulators.gcs_url,
                self.gateways[self.target.service_account].url("bigquery"), out / "batch")
            self.emulators.create_bucket(self.target.bucket)
            self.load_data()
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> Rehearsal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def source_tables(self) -> list[str]:
        from pipelines.config.registry import load_config

        return source_tables(load_config(self.model).source)

    def load_data(self, scale: dict[str, float] | None = None) -> dict[str, int]:
        """The model's source table(s), from the warehouse into the BigQuery emulator."""
        return {table: load_table(self.warehouse, table, self.emulators.bq_port,
                                  self.target.project, self.target.dataset, self.location,
                                  scale=scale)
                for table in self.source_tables()}

    @contextlib.contextmanager
    def _as(self, identity: str):
        """This process's Google clients reach the emulators as ``identity`` (the runner)."""
        saved = dict(os.environ)
        os.environ.update(self.gateways[identity].environment())
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextlib.contextmanager
    def runner_scores(self):
        """The runner's Vertex backend for scores (``VertexScores``), in this process, its
        clients reaching the emulators as the runner (the aiplatform SDK over REST, as
        the rehearsal's ``sitecustomize`` makes it in task processes)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import aiplatform

        from pipelines.runner.vertex_scores import VertexScores

        with self._as(self.runner_account):
            aiplatform.init(api_transport="rest", credentials=AnonymousCredentials())
            try:
                yield VertexScores(self.stack, credentials=AnonymousCredentials())
            finally:
                aiplatform.init(api_transport="grpc")

    def compile(self, path: Path) -> dict:
        """What the runner's Vertex backend does: read the baseline, compile the spec."""
        from google.auth.credentials import AnonymousCredentials

        from pipelines.cloud.compile import compile_pipeline, read_cloud_baseline
        from pipelines.config.registry import load_config

        with self._as(self.runner_account):
            baseline = read_cloud_baseline(self.target, credentials=AnonymousCredentials())
            return compile_pipeline(load_config(self.model), self.target, path,
                                    baseline=baseline)

    def _task_environment(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if k in ("PATH", "HOME", "LANG", "TMPDIR", "TF_CPP_MIN_LOG_LEVEL")}
        return {**keep, **self.gateways[self.target.service_account].environment(),
                # the runner image's environment (runner_image/Dockerfile)
                "TF_USE_LEGACY_KERAS": "1", "PYTHONUNBUFFERED": "1",
                "FULLCYCLE_PROJECT_ROOT": str(PROJECT_ROOT),
                "FULLCYCLE_HOME": str(self.out / "task-home"),
                "GOOGLE_CLOUD_PROJECT": self.target.project,
                "PYTHONPATH": os.pathsep.join([str(SITE), str(PROJECT_ROOT)])}

    def _container(self, logs: Path):
        env = self._task_environment()

        def run(name: str, argv: list[str]) -> subprocess.CompletedProcess:
            scratch = self.out / "scratch" / name
            scratch.mkdir(parents=True, exist_ok=True)
            (logs / f"{name}.argv.json").write_text(json.dumps(argv, indent=1))
            return subprocess.run(argv, env=env, cwd=scratch, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=TASK_TIMEOUT)
        return run

    def run(self, on_task=lambda result: None) -> RunReport:
        """One pipeline job, from the runner's compile to the Pusher's deploy."""
        self._runs += 1
        job_id = f"{self.target.endpoint or self.model}-rehearsal-{self._runs}"
        folder = self.out / f"run-{self._runs}"
        logs = folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.calls.job = job_id
        started = time.monotonic()
        spec = self.compile(folder / "pipeline.json")
        refused_before = len(self.vertex.refused)
        walk = Walk(spec=spec, job_id=job_id, project_number=project_number(self.target.project),
                    region=self.target.region, record=self.record,
                    run_container=self._container(logs), read_file=self.emulators.read)

        def each(result: TaskResult) -> None:
            write_log(logs, result)
            on_task(result)

        tasks = walk.run(each)
        report = RunReport(job_id=job_id, tasks=tasks, vertex=self.vertex.deployed(),
                           seconds=time.monotonic() - started,
                           refused=self.vertex.refused[refused_before:])
        (folder / "summary.json").write_text(json.dumps(report.summary(), indent=1))
        return report
