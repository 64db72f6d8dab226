"""Walks a compiled Vertex AI pipeline spec as Vertex AI Pipelines would, task by task.

Each container task runs its spec's own ``command`` + ``args`` (the
``kubeflow_v2_run_executor`` entrypoint) in a process of its own, with ``{{$}}``
replaced by the ExecutorInput Vertex would send: upstream output artifacts as inputs,
the spec's constant parameters, output artifacts under the ``gs://`` pipeline root and
an ``outputFile``; its ExecutorOutput is read back from there. Importer tasks yield their
constant URI; resolver tasks are answered from :class:`ArtifactRecord` (the rehearsal's
record of every artifact its runs produced), with the two clauses the compiled filters
use. A failed task stops its downstream tasks, as on Vertex.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}")


@dataclass
class TaskResult:
    name: str
    state: str  # SUCCEEDED, FAILED, SKIPPED
    seconds: float = 0.0
    outputs: dict[str, list[dict]] = field(default_factory=dict)
    error: str = ""
    log: str = ""

    def line(self) -> str:
        """What the rehearsal prints for the task: state, seconds, outputs."""
        shown = []
        for key, artifacts in self.outputs.items():
            for artifact in artifacts:
                meta = {k: v for k, v in artifact.get("metadata", {}).items()
                        if k in ("blessed", "pushed", "pushed_destination", "split_names",
                                 "current_model_id")}
                shown.append(f"{key}={artifact['uri']}" + (f" {json.dumps(meta)}" if meta else ""))
        detail = self.error or "; ".join(shown) or "-"
        return f"{self.name:<52} {self.state:<9} {self.seconds:7.1f}s  {detail}"


class ArtifactRecord:
    """Every artifact the rehearsal's runs produced, in order (Vertex ML Metadata's role)."""

    def __init__(self):
        self.artifacts: list[dict] = []

    def add(self, artifact: dict) -> None:
        self.artifacts.append(artifact)

    def query(self, query: str) -> list[dict]:
        """The latest artifact matching a resolver filter of the clauses TFX compiles."""
        clauses = [c.strip() for c in query.split(" AND ")]
        found = list(self.artifacts)
        for clause in clauses:
            key, _, value = clause.partition("=")
            value = value.strip('"')
            if key == "schema_title":
                found = [a for a in found if _title(a["type"]) == value]
            elif key == "state" and value == "LIVE":
                continue
            elif key == "name":
                found = [a for a in found if a.get("name") == value]
            elif m := re.fullmatch(r"metadata\.(\w+)\.number_value", key):
                found = [a for a in found
                         if a.get("metadata", {}).get(m.group(1)) == float(value)]
            else:
                raise ValueError(f"resolver filter clause {clause!r} is not one the rehearsal "
                                 "answers (allowed: schema_title, state=LIVE, name, "
                                 "metadata.<key>.number_value)")
        return found[-1:]


def _title(type_schema: dict) -> str:
    if "schemaTitle" in type_schema:
        return type_schema["schemaTitle"]
    m = re.search(r"title: (\S+)", type_schema.get("instanceSchema", ""))
    return m.group(1) if m else ""


def topological(tasks: dict[str, dict]) -> list[str]:
    """Task names in waves, as Vertex AI starts them: every task whose upstream tasks are
    done starts in the next wave (so resolvers run at the start, before anything of the
    run exists); by name within a wave."""
    order: list[str] = []
    while len(order) < len(tasks):
        done = set(order)
        ready = sorted(n for n, t in tasks.items() if n not in done and _upstream(t) <= done)
        if not ready:
            raise ValueError(f"the spec's DAG has a cycle among {sorted(set(tasks) - done)}")
        order += ready
    return order


def _upstream(task: dict) -> set[str]:
    producers = {a["taskOutputArtifact"]["producerTask"]
                 for a in task.get("inputs", {}).get("artifacts", {}).values()
                 if "taskOutputArtifact" in a}
    return set(task.get("dependentTasks", [])) | producers


@dataclass
class Walk:
    """One pipeline job: the spec, where its outputs go, how a container task is run."""

    spec: dict
    job_id: str
    project_number: str
    region: str
    record: ArtifactRecord
    run_container: Callable[[str, list[str]], subprocess.CompletedProcess]
    read_file: Callable[[str], bytes | None]
    direct_runner: bool = True
    results: list[TaskResult] = field(default_factory=list)
    _counter: int = 0

    @property
    def _pipeline(self) -> dict:
        return self.spec["pipelineSpec"]

    def _name(self) -> str:
        self._counter += 1
        return (f"projects/{self.project_number}/locations/{self.region}/metadataStores/"
                f"default/artifacts/{self.job_id}-{self._counter}")

    def run(self, on_task: Callable[[TaskResult], None] = lambda r: None) -> list[TaskResult]:
        tasks = self._pipeline["root"]["dag"]["tasks"]
        outputs: dict[str, dict[str, list[dict]]] = {}
        failed: set[str] = set()
        for name in topological(tasks):
            task = tasks[name]
            if _upstream(task) & failed:
                result = TaskResult(name, "SKIPPED", error="an upstream task failed")
                failed.add(name)
            else:
                result = self._task(name, task, outputs)
                if result.state != "SUCCEEDED":
                    failed.add(name)
            outputs[name] = result.outputs
            self.results.append(result)
            on_task(result)
        return self.results

    def _inputs(self, task: dict, outputs: dict) -> dict[str, list[dict]]:
        found = {}
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            ref = source["taskOutputArtifact"]
            found[key] = outputs.get(ref["producerTask"], {}).get(ref["outputArtifactKey"], [])
        return found

    def _task(self, name: str, task: dict, outputs: dict) -> TaskResult:
        component = self._pipeline["components"][task["componentRef"]["name"]]
        executor = self._pipeline["deploymentSpec"]["executors"][component["executorLabel"]]
        inputs = self._inputs(task, outputs)
        started = time.monotonic()
        try:
            if "resolver" in executor:
                produced = self._resolve(executor["resolver"], inputs)
                result = TaskResult(name, "SUCCEEDED", outputs=produced)
            elif "importer" in executor:
                result = TaskResult(name, "SUCCEEDED", outputs=self._import(
                    executor["importer"], component))
            else:
                result = self._container(name, task, component, executor["container"], inputs)
        except Exception as err:  # one task's failure is a result, not the walk's end
            result = TaskResult(name, "FAILED", error=f"{type(err).__name__}: {err}")
        result.seconds = time.monotonic() - started
        for artifacts in result.outputs.values():
            for artifact in artifacts:
                self.record.add(artifact)
        return result

    def _resolve(self, resolver: dict, inputs: dict) -> dict[str, list[dict]]:
        produced = {}
        for key, query in resolver["outputArtifactQueries"].items():
            text, missing = query["filter"], False
            for placeholder, input_key, meta_key in set(
                    (m.group(0), m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text)):
                artifacts = inputs.get(input_key, [])
                if not artifacts:
                    missing = True
                    break
                text = text.replace(placeholder, str(artifacts[0]["metadata"].get(meta_key)))
            produced[key] = [] if missing else [dict(a) for a in self.record.query(text)]
        return produced

    def _import(self, importer: dict, component: dict) -> dict[str, list[dict]]:
        uri = importer["artifactUri"]
        uri = uri.get("constant", {}).get("stringValue") or uri.get("constantValue", {}).get(
            "stringValue") or uri.get("constant")
        (key, definition), = component["outputDefinitions"]["artifacts"].items()
        metadata = importer.get("metadata", {})
        return {key: [{"name": self._name(), "type": importer["typeSchema"], "uri": uri,
                       "metadata": metadata}]}

    def _container(self, name: str, task: dict, component: dict, container: dict,
                   inputs: dict) -> TaskResult:
        root = self.spec["runtimeConfig"]["gcsOutputDirectory"].rstrip("/")
        task_root = f"{root}/{self.project_number}/{self.job_id}/{name}_{uuid.uuid4().hex[:12]}"
        parameters = {k: v["runtimeValue"]["constantValue"]
                      for k, v in task.get("inputs", {}).get("parameters", {}).items()}
        out = {key: {"artifacts": [{"name": self._name(), "type": d["artifactType"],
                                    "uri": f"{task_root}/{key}", "metadata": {}}]}
               for key, d in component.get("outputDefinitions", {}).get("artifacts", {}).items()}
        types = {k: d["artifactType"] for k, d in
                 component.get("inputDefinitions", {}).get("artifacts", {}).items()}
        executor_input = {
            "inputs": {"parameters": parameters, "artifacts": {
                key: {"artifacts": [{**a, "type": types.get(key, a["type"])} for a in found]}
                for key, found in inputs.items()}},
            "outputs": {"artifacts": out, "outputFile": f"{task_root}/executor_output.json"}}
        args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
        if self.direct_runner and any(a.startswith("--runner=") for a in args):
            args.append("--runner=DirectRunner")
        command = [sys.executable if c == "python" else c for c in container["command"]]
        done = self.run_container(name, command + args)
        if done.returncode != 0:
            return TaskResult(name, "FAILED", error=_last_error(done.stdout or ""),
                              log=done.stdout or "")
        raw = self.read_file(executor_input["outputs"]["outputFile"])
        if raw is None:
            return TaskResult(name, "FAILED", error="the task wrote no ExecutorOutput to "
                              f"{executor_input['outputs']['outputFile']}")
        written = json.loads(raw).get("artifacts", {})
        produced = {}
        for key, listed in out.items():
            answered = written.get(key, {}).get("artifacts") or listed["artifacts"]
            produced[key] = [{**listed["artifacts"][0], "uri": a.get("uri") or
                              listed["artifacts"][0]["uri"], "metadata": a.get("metadata", {})}
                             for a in answered]
        return TaskResult(name, "SUCCEEDED", outputs=produced, log=done.stdout or "")


def _last_error(log: str) -> str:
    """The line that says why a task failed (the last exception line), else the last line."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception|Exit)\b.*:", line):
            return line[:400]
    return (lines[-1] if lines else "no output")[:400]


def write_log(folder: Path, result: TaskResult) -> None:
    if result.log:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{result.name}.log").write_text(result.log)
