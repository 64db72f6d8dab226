"""The Vertex backend through the real google-cloud-aiplatform client.

Only the HTTP transport is replaced: a fake Vertex AI answers at the
``requests`` adapter, checking each request as the real API would. How runs
behave across instances, retries and kills: ``test_stateless.py``.
"""

import json

import pytest
import requests
from google.auth.credentials import AnonymousCredentials

from pipelines.runner.runs import run_id_for
from pipelines.runner.vertex import VertexBackend
from pipelines.stack.config import SETTINGS_ENV, StackConfig
from tests.support.google_fakes import FakeGoogleCloud
from tests.support.google_fakes import created_pipeline_jobs as created
from tests.support.google_http import intercepted, json_response

BUCKETS = {"fullcycle-dev-fc-taxi-tips", "fullcycle-dev-fc-basic-template"}


@pytest.fixture
def vertex(monkeypatch):
    """Vertex AI (PipelineJobs checked as the service checks them) and the models' buckets."""
    with intercepted(monkeypatch, FakeGoogleCloud(BUCKETS)) as fake:
        yield fake



def test_create_pipeline_job_request(vertex):
    run_id, trigger = run_id_for("taxi_tips", "2026-11-30T04:30:00Z")
    run, new = VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        "taxi_tips", run_id, trigger)

    assert new and run.run_id == run_id and run_id.startswith("fullcycle-taxi-tips-s")
    (body,) = created(vertex)
    assert list(vertex.registry.pipeline_jobs) == [run_id]  # the run id is the job id
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
    assert run.state == "QUEUED" and run.trigger == "scheduler" and run.model == "taxi_tips"
    assert run.link.endswith(f"pipelines/runs/{run_id}?project=fullcycle-dev")


def test_the_baseline_recorded_in_the_bucket_is_imported(vertex):
    from pipelines.pipeline.baseline import Baseline

    root = "gs://fullcycle-dev-fc-taxi-tips/baselines/1796100000000"
    baseline = Baseline(version="1796100000000", recorded_at=1796100000.0,
                        statistics_uri=f"{root}/statistics", schema_uri=f"{root}/schema",
                        split_names='["eval", "train"]', source="gs://x/StatisticsGen/1")
    vertex.gcs.put("fullcycle-dev-fc-taxi-tips", "baselines/baseline.json",
                   json.dumps(baseline.as_dict()).encode(), 1796100000.0)
    VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        "taxi_tips", *run_id_for("taxi_tips"))
    (body,) = created(vertex)
    spec = body["pipelineSpec"]
    tasks = spec["root"]["dag"]["tasks"]
    assert {"baseline_statistics", "baseline_schema", "DataValidator",
            "BaselineRecorder"} <= set(tasks)
    text = json.dumps(spec)
    assert f"{root}/statistics" in text and f"{root}/schema" in text
    # blessed runs record the next baseline in the same place
    assert "gs://fullcycle-dev-fc-taxi-tips/baselines" in text


def test_submission_failure_leaves_no_run(vertex, monkeypatch):
    from fastapi.testclient import TestClient

    from pipelines.runner.app import create_app

    def refuse(adapter, request, **kwargs):
        return json_response(request, 403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                                      "message": "no aiplatform.user"}})

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    client = TestClient(create_app(VertexBackend("dev", AnonymousCredentials())))
    response = client.post("/runs", json={"model": "basic_template"},
                           headers={"X-CloudScheduler-ScheduleTime": "2026-11-30T03:00:00Z"})
    assert response.status_code == 503 and "could not start a run" in response.json()["error"]
    assert "403" in response.json()["error"]  # the cause, named
    assert vertex.registry.pipeline_jobs == {}  # a Scheduler retry may start it


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
    with intercepted(monkeypatch, FakeGoogleCloud({"fullcycle-dev-fc-churn"})) as fake:
        client = TestClient(create_app(VertexBackend("prod", AnonymousCredentials())))
        response = client.post("/runs", json={"model": "churn"})
        assert response.status_code == 202, response.text
    (body,) = created(fake)
    assert body["serviceAccount"] == "fc-churn@fullcycle-dev.iam.gserviceaccount.com"
    assert image in json.dumps(body["pipelineSpec"])  # the exact digest pulumi up pushed


def test_times_with_nanoseconds_are_read(vertex):
    """Protobuf's JSON gives 9 fractional digits when a time has nanoseconds; the run's
    times are read from them (Python 3.10's fromisoformat takes 3 or 6 digits only)."""
    run_id, trigger = run_id_for("taxi_tips", "2026-11-30T04:30:00Z")
    backend = VertexBackend("dev", credentials=AnonymousCredentials())
    backend.submit("taxi_tips", run_id, trigger)
    vertex.registry.pipeline_jobs[run_id].update(
        createTime="2026-11-30T04:30:01.123456789Z", startTime="2026-11-30T04:31:02Z",
        endTime="2026-11-30T05:00:00.500Z", state="PIPELINE_STATE_SUCCEEDED")

    run = backend.get(run_id)
    assert run.created == pytest.approx(1796013001.123456789)
    assert run.started == 1796013062.0
    assert run.finished == 1796014800.5
    assert run.state == "SUCCEEDED"


def test_a_model_the_stack_does_not_list_is_refused_not_retried(monkeypatch):
    """A packaged model missing from the stack is a 4xx naming the stack (a 503 would tell
    Scheduler and Airflow to retry what can never start), and nothing is created."""
    from fastapi.testclient import TestClient

    from pipelines.runner.app import create_app

    settings = StackConfig.from_mapping({
        "gcp:project": "fullcycle-dev", "gcp:region": "europe-west4",
        "fullcycle:models": [{"name": "taxi_tips"}]}, "prod").settings_json("img@sha256:f")
    monkeypatch.setenv(SETTINGS_ENV, settings)
    with intercepted(monkeypatch, FakeGoogleCloud(BUCKETS)) as fake:
        client = TestClient(create_app(VertexBackend("prod", AnonymousCredentials())))
        response = client.post("/runs", json={"model": "basic_template"})
    assert response.status_code == 422, response.text
    assert "basic_template" in response.json()["error"] and "prod" in response.json()["error"]
    assert created(fake) == []


def test_the_tuning_result_recorded_in_the_bucket_is_imported_into_the_trainer(vertex):
    from pipelines.pipeline.hyperparameters import TunedHyperparameters

    bucket = "fullcycle-dev-fc-basic-template"
    uri = f"gs://{bucket}/hyperparameters/1796100000000/hyperparameters"
    tuned = TunedHyperparameters(version="1796100000000", recorded_at=1796100000.0, uri=uri,
                                 values={"dropout": 0.1}, objective="val_loss", score=1.5)
    vertex.gcs.put(bucket, "hyperparameters/hyperparameters.json",
                   json.dumps(tuned.as_dict()).encode(), 1796100000.0)
    VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        "basic_template", *run_id_for("basic_template"))
    (body,) = created(vertex)
    tasks = body["pipelineSpec"]["root"]["dag"]["tasks"]
    assert tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"][
        "producerTask"] == "tuned_hyperparameters"
    assert uri in json.dumps(body["pipelineSpec"]["deploymentSpec"])
    assert "Tuner" not in tasks  # scheduled runs never tune


def test_a_tuning_is_the_tuning_pipeline_as_a_pipeline_job(vertex):
    from pipelines.runner.runs import tuning_id_for

    tuning_id, trigger = tuning_id_for("basic_template", "tune-2026-12-06")
    run, new = VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        "basic_template", tuning_id, trigger, tuning=True)
    assert new and run.run_id == tuning_id and list(vertex.registry.pipeline_jobs) == [tuning_id]
    (body,) = created(vertex)
    assert body["displayName"] == "fullcycle-basic-template-tune"
    assert body["serviceAccount"] == "fc-basic-template@fullcycle-dev.iam.gserviceaccount.com"
    tasks = body["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {"Tuner", "HyperparametersRecorder"} <= set(tasks) and "Trainer" not in tasks
    assert "gs://fullcycle-dev-fc-basic-template/hyperparameters" in json.dumps(body)
