"""The spec walker and the gateway on their own (fast): DAG order, ExecutorInput, resolvers,
a failed task stopping its downstream, calls recorded per identity through the TLS relay."""

import http.server
import json
import subprocess
import threading

import pytest
import requests

from tests.rehearsal.gateway import CallLog, Gateway, make_ca
from tests.rehearsal.walker import ArtifactRecord, Walk, topological

MODEL_TYPE = {"instanceSchema": "title: tfx.Model\ntype: object\n"}
BLESSING_TYPE = {"instanceSchema": "title: tfx.ModelBlessing\ntype: object\n"}


def _spec() -> dict:
    """Train -> Bless, and the two resolvers TFX compiles for the latest blessed model."""
    container = {"command": ["python", "-m", "entrypoint"],
                 "args": ["--json_serialized_invocation_args", "{{$}}",
                          "--runner=DataflowRunner"]}
    model_filter = ("schema_title=\"tfx.Model\" AND state=LIVE AND "
                    "name=\"{{$.inputs.artifacts['input'].metadata['current_model_id']}}\"")
    return {"runtimeConfig": {"gcsOutputDirectory": "gs://b/root"}, "pipelineSpec": {
        "root": {"dag": {"tasks": {
            "Bless": {"componentRef": {"name": "Bless"}, "dependentTasks": ["Train"],
                      "inputs": {"artifacts": {"model": {"taskOutputArtifact": {
                          "producerTask": "Train", "outputArtifactKey": "model"}}}}},
            "Train": {"componentRef": {"name": "Train"}, "inputs": {"parameters": {
                "steps": {"runtimeValue": {"constantValue": {"intValue": "5"}}}}}},
            "blessing-resolver": {"componentRef": {"name": "blessing-resolver"}},
            "model-resolver": {"componentRef": {"name": "model-resolver"}, "inputs": {
                "artifacts": {"input": {"taskOutputArtifact": {
                    "producerTask": "blessing-resolver",
                    "outputArtifactKey": "model_blessing"}}}}}}}},
        "components": {
            "Train": {"executorLabel": "Train_executor", "outputDefinitions": {
                "artifacts": {"model": {"artifactType": MODEL_TYPE}}}},
            "Bless": {"executorLabel": "Bless_executor",
                      "inputDefinitions": {"artifacts": {"model": {"artifactType": MODEL_TYPE}}},
                      "outputDefinitions": {"artifacts": {
                          "blessing": {"artifactType": BLESSING_TYPE}}}},
            "blessing-resolver": {"executorLabel": "br"},
            "model-resolver": {"executorLabel": "mr"}},
        "deploymentSpec": {"executors": {
            "Train_executor": {"container": container},
            "Bless_executor": {"container": container},
            "br": {"resolver": {"outputArtifactQueries": {"model_blessing": {"filter": (
                "schema_title=\"tfx.ModelBlessing\" AND state=LIVE AND "
                "metadata.blessed.number_value=1")}}}},
            "mr": {"resolver": {"outputArtifactQueries": {"model": {
                "filter": model_filter}}}}}}}}


class FakeVertexTasks:
    """Runs a container task as the entrypoint would: writes its ExecutorOutput."""

    def __init__(self, fail: set[str] = frozenset()):
        self.files: dict[str, bytes] = {}
        self.inputs: dict[str, dict] = {}
        self.argv: dict[str, list[str]] = {}
        self.fail = fail

    def run(self, name: str, argv: list[str]) -> subprocess.CompletedProcess:
        self.argv[name] = argv
        executor_input = json.loads(argv[argv.index("--json_serialized_invocation_args") + 1])
        self.inputs[name] = executor_input
        if name in self.fail:
            return subprocess.CompletedProcess(argv, 1, "log line\nValueError: broken data\n")
        outputs = executor_input["outputs"]["artifacts"]
        inputs = executor_input["inputs"]["artifacts"]
        blessing = {"blessed": 1, "current_model_id": inputs["model"]["artifacts"][0]["name"]
                    } if "model" in inputs else {}
        written = {"artifacts": {k: {"artifacts": [{
            **v["artifacts"][0], "metadata": blessing if k == "blessing" else {}}]}
            for k, v in outputs.items()}}
        self.files[executor_input["outputs"]["outputFile"]] = json.dumps(written).encode()
        return subprocess.CompletedProcess(argv, 0, "ok\n")


def _walk(tasks: FakeVertexTasks, record: ArtifactRecord, job: str) -> Walk:
    return Walk(spec=_spec(), job_id=job, project_number="123", region="europe-west4",
                record=record, run_container=tasks.run, read_file=tasks.files.get)


def test_tasks_start_in_waves_after_what_they_depend_on():
    """As on Vertex AI, the resolvers start with the first tasks: before this run's own
    blessing exists."""
    order = topological(_spec()["pipelineSpec"]["root"]["dag"]["tasks"])
    assert order == ["Train", "blessing-resolver", "Bless", "model-resolver"]


def test_executor_input_carries_upstream_artifacts_parameters_and_outputs():
    tasks, record = FakeVertexTasks(), ArtifactRecord()
    results = {r.name: r for r in _walk(tasks, record, "job-1").run()}
    assert all(r.state == "SUCCEEDED" for r in results.values()), results
    train, bless = tasks.inputs["Train"], tasks.inputs["Bless"]
    assert train["inputs"]["parameters"] == {"steps": {"intValue": "5"}}
    model_uri = train["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"]
    assert model_uri.startswith("gs://b/root/123/job-1/Train_") and model_uri.endswith("/model")
    assert train["outputs"]["outputFile"] == model_uri.rsplit("/", 1)[0] + "/executor_output.json"
    assert bless["inputs"]["artifacts"]["model"]["artifacts"][0]["uri"] == model_uri
    assert tasks.argv["Train"][0].endswith("python") and tasks.argv["Train"][-2:] == [
        "--runner=DataflowRunner", "--runner=DirectRunner"]
    # a first run: nothing blessed yet, the resolvers answer nothing
    assert results["model-resolver"].outputs == {"model": []}


def test_resolvers_answer_the_latest_blessed_model_of_earlier_runs():
    tasks, record = FakeVertexTasks(), ArtifactRecord()
    first = {r.name: r for r in _walk(tasks, record, "job-1").run()}
    second = {r.name: r for r in _walk(tasks, record, "job-2").run()}
    resolved = second["model-resolver"].outputs["model"]
    assert [a["uri"] for a in resolved] == [first["Train"].outputs["model"][0]["uri"]]


def test_a_failed_task_stops_its_downstream_tasks():
    tasks = FakeVertexTasks(fail={"Train"})
    results = {r.name: r for r in _walk(tasks, ArtifactRecord(), "job-1").run()}
    assert results["Train"].state == "FAILED"
    assert results["Train"].error == "ValueError: broken data"
    assert results["Bless"].state == "SKIPPED" and "Bless" not in tasks.inputs


def test_an_unknown_resolver_clause_is_named():
    with pytest.raises(ValueError, match="clause 'create_time>1'"):
        ArtifactRecord().query('schema_title="tfx.Model" AND create_time>1')


def test_gateway_records_each_call_with_its_identity(tmp_path):
    """A client that only knows https://www.googleapis.com reaches the emulator through the
    relay (the rehearsal's CA), and the call is recorded with the identity it ran as."""
    seen = []

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("X-Original-Host")))
            body = b'{"kind": "storage#object"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    log = CallLog(tmp_path / "calls.jsonl")
    log.job = "job-1"
    gateway = Gateway("fc-m@p.iam.gserviceaccount.com",
                      {"storage": upstream.server_address}, log, make_ca(tmp_path / "ca"))
    try:
        env = gateway.environment()
        answer = requests.get("https://www.googleapis.com/storage/v1/b/bkt/o/a%2Fb",
                              proxies={"https": env["HTTPS_PROXY"]},
                              verify=env["REQUESTS_CA_BUNDLE"], timeout=30)
        assert answer.json() == {"kind": "storage#object"}
        assert requests.get(f"{env['STORAGE_EMULATOR_HOST']}/storage/v1/b/bkt",
                            timeout=30).status_code == 200
    finally:
        gateway.close()
        upstream.shutdown()
    assert seen[0] == ("/storage/v1/b/bkt/o/a%2Fb", "www.googleapis.com")
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [(c["job"], c["identity"], c["service"], c["method"], c["resource"])
            for c in calls] == [
        ("job-1", "fc-m@p.iam.gserviceaccount.com", "storage", "GET", "/storage/v1/b/bkt/o/a/b"),
        ("job-1", "fc-m@p.iam.gserviceaccount.com", "storage", "GET", "/storage/v1/b/bkt")]
