"""The Vertex backend through the real google-cloud-aiplatform client.

Only the HTTP transport is replaced: a fake Vertex AI answers at the
``requests`` adapter, checking each request as the real API would.
"""

import json
import re

import pytest
import requests
from google.auth.credentials import AnonymousCredentials

from pipelines.runner.backends import VertexBackend
from pipelines.runner.store import RunStore
from pipelines.stack.config import SETTINGS_ENV, StackConfig
from tests.support.google_fakes import FakeGcs
from tests.support.google_http import intercepted, json_response

LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


class FakeVertex:
    """Accepts CreatePipelineJob requests that Vertex AI would accept; records them.

    Also answers the client's check that the pipeline root's bucket exists (GCS).
    """

    def __init__(self, buckets=("fullcycle-dev-fc-taxi-tips", "fullcycle-dev-fc-basic-template")):
        self.requests, self.gcs = [], FakeGcs(set(buckets))

    def send(self, request):
        url = request.url
        if url.startswith("https://storage.googleapis.com/"):  # buckets, the baseline pointer
            return self.gcs.send(request)
        self.requests.append(request)
        match = re.match(r"https://([a-z0-9-]+)-aiplatform\.googleapis\.com/v1/projects/([^/]+)/"
                         r"locations/([^/]+)/pipelineJobs\?pipelineJobId=([^&]+)", url)
        assert request.method == "POST" and match, f"unexpected call {request.method} {url}"
        region, project, location, job_id = match.groups()
        assert region == location and JOB_ID.match(job_id), url
        body = json.loads(request.body)
        assert body["displayName"] and body["serviceAccount"].endswith(".iam.gserviceaccount.com")
        for key, value in body["labels"].items():
            assert LABEL.match(key) and re.match(r"^[a-z0-9_-]{0,63}$", value), (key, value)
        spec = body["pipelineSpec"]
        assert spec["root"]["dag"]["tasks"] and spec["deploymentSpec"]["executors"]
        assert body["runtimeConfig"]["gcsOutputDirectory"].startswith("gs://")
        return json_response(request, 200, {
            **body, "name": f"projects/{project}/locations/{location}/pipelineJobs/{job_id}",
            "state": "PIPELINE_STATE_PENDING"})


@pytest.fixture
def vertex(monkeypatch):
    with intercepted(monkeypatch, FakeVertex()) as fake:
        yield fake


def test_create_pipeline_job_request(vertex, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run, _ = store.create_or_get("taxi_tips", "scheduler", "2026-11-30T04:30:00Z")
    VertexBackend(store, "dev", credentials=AnonymousCredentials()).submit(run)

    (request,) = vertex.requests
    assert request.url.startswith("https://europe-west4-aiplatform.googleapis.com/v1/projects/"
                                  "fullcycle-dev/locations/europe-west4/pipelineJobs?pipelineJobId="
                                  f"fullcycle-taxi-tips-{run.id}")
    body = json.loads(request.body)
    assert body["displayName"] == "fullcycle-taxi-tips"
    assert body["serviceAccount"] == "fc-taxi-tips@fullcycle-dev.iam.gserviceaccount.com"
    # the stack's labels (where the cost goes) and the stack name, as on what pulumi up creates
    assert body["labels"] == {"app": "fullcycle", "model": "taxi-tips", "trigger": "scheduler",
                              "stack": "dev", "cost-center": "mobility", "env": "dev",
                              "team": "data-science"}
    assert body["runtimeConfig"]["gcsOutputDirectory"] == \
        "gs://fullcycle-dev-fc-taxi-tips/pipeline_root"
    spec = json.dumps(body["pipelineSpec"])
    assert "BigQueryExampleGen" in spec and "DataflowRunner" in spec
    assert StackConfig.from_stack_file("dev").image in spec  # the image pulumi up builds
    assert "baseline_statistics" not in spec  # no run was blessed yet: no baseline to import
    stored = store.get(run.id)
    assert stored.state == "SUBMITTED"
    assert stored.link.endswith(f"pipelines/runs/fullcycle-taxi-tips-{run.id}"
                                "?project=fullcycle-dev")


def test_the_baseline_recorded_in_the_bucket_is_imported(vertex, tmp_path):
    from pipelines.pipeline.baseline import Baseline

    root = "gs://fullcycle-dev-fc-taxi-tips/baselines/1796100000000"
    baseline = Baseline(version="1796100000000", recorded_at=1796100000.0,
                        statistics_uri=f"{root}/statistics", schema_uri=f"{root}/schema",
                        split_names='["eval", "train"]', source="gs://x/StatisticsGen/1")
    vertex.gcs.put("fullcycle-dev-fc-taxi-tips", "baselines/baseline.json",
                   json.dumps(baseline.as_dict()).encode(), 1796100000.0)
    store = RunStore(tmp_path / "runs.sqlite")
    run, _ = store.create_or_get("taxi_tips", "manual", None)
    VertexBackend(store, "dev", credentials=AnonymousCredentials()).submit(run)
    (request,) = vertex.requests
    spec = json.loads(request.body)["pipelineSpec"]
    tasks = spec["root"]["dag"]["tasks"]
    assert {"baseline_statistics", "baseline_schema", "DataValidator",
            "BaselineRecorder"} <= set(tasks)
    text = json.dumps(spec)
    assert f"{root}/statistics" in text and f"{root}/schema" in text
    # blessed runs record the next baseline in the same place
    assert "gs://fullcycle-dev-fc-taxi-tips/baselines" in text


def test_submission_failure_leaves_no_run(vertex, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from pipelines.runner.app import create_app

    def refuse(adapter, request, **kwargs):
        return json_response(request, 403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    store = RunStore(tmp_path / "runs.sqlite")
    client = TestClient(create_app(store, VertexBackend(store, "dev", AnonymousCredentials())))
    response = client.post("/runs", json={"model": "basic_template"},
                           headers={"X-CloudScheduler-ScheduleTime": "2026-11-30T03:00:00Z"})
    assert response.status_code == 503 and "could not start a run" in response.json()["error"]
    assert store.list() == []  # a Scheduler retry may start it


def test_a_runner_handed_settings_for_a_new_model_runs_it(monkeypatch, tmp_path, models_package):
    """Adding a model = a folder (in the image) + a stack entry + pulumi up: the runner reads
    the entry from the settings pulumi up hands it, never from a stack file."""
    from fastapi.testclient import TestClient

    from pipelines.models.basic_template import config as template
    from pipelines.runner.app import create_app

    models_package("churn", open(template.__file__).read())
    image = "europe-west4-docker.pkg.dev/fullcycle-dev/fullcycle/runner@sha256:feed"
    settings = StackConfig.from_mapping({
        "gcp:project": "fullcycle-dev", "gcp:region": "europe-west4",
        "fullcycle:models": [{"name": "churn"}]}, "prod").settings_json(image)
    monkeypatch.setenv(SETTINGS_ENV, settings)  # there is no Pulumi.prod.yaml
    with intercepted(monkeypatch, FakeVertex(buckets=("fullcycle-dev-fc-churn",))) as fake:
        store = RunStore(tmp_path / "runs.sqlite")
        client = TestClient(create_app(store, VertexBackend(store, "prod",
                                                            AnonymousCredentials())))
        response = client.post("/runs", json={"model": "churn"})
        assert response.status_code == 202, response.text
    (request,) = fake.requests
    body = json.loads(request.body)
    assert body["serviceAccount"] == "fc-churn@fullcycle-dev.iam.gserviceaccount.com"
    assert image in json.dumps(body["pipelineSpec"])  # the exact digest pulumi up pushed
