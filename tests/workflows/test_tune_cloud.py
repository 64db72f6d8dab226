"""``fullcycle tune --cloud`` submits as the runner's POST /tunings does: one id per key.

Vertex AI is the fake behind the real google-cloud-aiplatform client
(``tests/support/google_fakes.py``), as in the runner's backend tests.
"""

import pytest
from google.auth.credentials import AnonymousCredentials
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.runner.runs import is_tuning_id, tuning_id_for
from pipelines.runner.vertex import VertexBackend
from pipelines.workflows.tune import tune_cloud
from tests.support.google_fakes import FakeGoogleCloud
from tests.support.google_fakes import created_pipeline_jobs as created
from tests.support.google_http import intercepted

MODEL = "basic_template"
BUCKETS = {"fullcycle-dev-fc-basic-template", "fullcycle-dev-fc-taxi-tips"}


@pytest.fixture
def vertex(monkeypatch):
    with intercepted(monkeypatch, FakeGoogleCloud(BUCKETS)) as fake:
        yield fake



def test_the_command_and_the_runner_make_the_same_job_for_a_key(vertex):
    answer = tune_cloud(load_config(MODEL), "dev", credentials=AnonymousCredentials(),
                        idempotency_key="tune-2026-12-06")
    expected, trigger = tuning_id_for(MODEL, "tune-2026-12-06")
    assert answer["job_id"] == expected and is_tuning_id(expected) and not answer["duplicate"]
    assert answer["link"].endswith(f"pipelines/runs/{expected}?project=fullcycle-dev")
    (body,) = created(vertex)
    assert body["labels"]["trigger"] == trigger == "api"
    assert body["displayName"] == "fullcycle-basic-template-tune"
    # A retried command, or the runner's POST /tunings with that key: no second job.
    again = tune_cloud(load_config(MODEL), "dev", credentials=AnonymousCredentials(),
                       idempotency_key="tune-2026-12-06")
    assert again["job_id"] == expected and again["duplicate"]
    run, new = VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        MODEL, expected, trigger, tuning=True)
    assert not new and run.run_id == expected
    assert len(created(vertex)) == 1 and list(vertex.registry.pipeline_jobs) == [expected]


def test_without_a_key_each_command_is_a_new_tuning_labelled_as_the_runners(vertex):
    first = tune_cloud(load_config(MODEL), "dev", credentials=AnonymousCredentials())
    second = tune_cloud(load_config(MODEL), "dev", credentials=AnonymousCredentials())
    assert first["job_id"] != second["job_id"]
    assert all(is_tuning_id(a["job_id"]) for a in (first, second))
    bodies = created(vertex)
    # The labels the runner's POST /tunings gives a tuning without a key.
    VertexBackend("dev", credentials=AnonymousCredentials()).submit(
        MODEL, *tuning_id_for(MODEL), tuning=True)
    runner_labels = created(vertex)[-1]["labels"]
    assert [b["labels"] for b in bodies] == [runner_labels, runner_labels]
    assert runner_labels["trigger"] == "manual"


def test_the_cli_passes_the_key_and_refuses_it_locally(vertex, monkeypatch):
    import pipelines.workflows.tune as tune
    from pipelines.cli.main import app

    seen = {}

    def fake_tune_cloud(config, stack, output, submit, idempotency_key=None):
        seen.update(model=config.name, stack=stack, key=idempotency_key, submit=submit)
        return {"spec": {"pipelineSpec": {"root": {"dag": {"tasks": {}}}}},
                "job_id": "fullcycle-basic-template-t0", "link": "L", "duplicate": True,
                "hyperparameters_root": "gs://b/hyperparameters"}

    monkeypatch.setattr(tune, "tune_cloud", fake_tune_cloud)
    result = CliRunner().invoke(app, ["tune", MODEL, "--cloud", "--stack", "dev",
                                      "--idempotency-key", "k1"])
    assert result.exit_code == 0, result.output
    assert seen == {"model": MODEL, "stack": "dev", "key": "k1", "submit": True}
    assert "already submitted fullcycle-basic-template-t0: L" in result.output
    refused = CliRunner().invoke(app, ["tune", MODEL, "--idempotency-key", "k1"])
    assert refused.exit_code == 2 and "are for --cloud" in refused.output
