"""The cloud half of tuning: the tuning pipeline compiles for Vertex AI, and a run's spec
imports the model's last tuning result from its bucket into the Trainer (offline)."""

import json

import pytest
from google.auth.credentials import AnonymousCredentials
from typer.testing import CliRunner

from pipelines.cloud.compile import compile_pipeline, read_cloud_hyperparameters
from pipelines.cloud.target import CloudTarget
from pipelines.config import load_config
from pipelines.pipeline.hyperparameters import TunedHyperparameters

MODEL = "basic_template"


def tasks(spec: dict) -> dict:
    return spec["pipelineSpec"]["root"]["dag"]["tasks"]


@pytest.fixture(scope="module")
def target():
    return CloudTarget.from_stack(MODEL, "dev")


@pytest.fixture(scope="module")
def tuning_spec(target):
    return compile_pipeline(load_config(MODEL), target, tuning=True)


def tuned(target) -> TunedHyperparameters:
    uri = f"gs://{target.bucket}/hyperparameters/1700000000000/hyperparameters"
    return TunedHyperparameters(version="1700000000000", recorded_at=1.7e9, uri=uri,
                                values={"dropout": 0.1}, objective="val_loss", score=1.5)


def test_tuning_spec_stops_before_training_and_records_in_the_bucket(tuning_spec, target):
    names = set(tasks(tuning_spec))
    assert {"BigQueryExampleGen", "Transform", "Tuner", "HyperparametersRecorder"} <= names
    assert not names & {"Trainer", "Evaluator", "Pusher", "BaselineRecorder"}, names
    assert tuning_spec["displayName"] == "fullcycle-basic-template-tune"
    text = json.dumps(tuning_spec)
    assert f"gs://{target.bucket}/hyperparameters" in text
    assert "pipelines.pipeline.tuner_executor.Executor" in text
    assert "pipelines.trainer.tuner_fn.tuner_fn" in text
    assert f"gs://{target.bucket}/pipeline_root" == \
        tuning_spec["runtimeConfig"]["gcsOutputDirectory"]


def test_tuning_spec_reads_train_only_split_by_the_hash(tuning_spec):
    text = json.dumps(tuning_spec)
    assert "MOD(ABS(FARM_FINGERPRINT(" in text
    # train's buckets 0..79 in five folds of 16
    for low, high in ((0, 16), (16, 32), (32, 48), (48, 64), (64, 80)):
        assert f">= {low} AND" in text and f"< {high}" in text
    assert "< 100" not in text  # the eval split (80..99) is not read
    assert "fold_5" in text


def test_a_run_spec_imports_the_tuning_result_into_the_trainer(target):
    result = tuned(target)
    spec = compile_pipeline(load_config(MODEL), target, hyperparameters=result)
    importer = tasks(spec)["tuned_hyperparameters"]
    assert result.uri in json.dumps(spec["pipelineSpec"]["deploymentSpec"])
    trainer_inputs = tasks(spec)["Trainer"]["inputs"]["artifacts"]
    assert trainer_inputs["hyperparameters"]["taskOutputArtifact"]["producerTask"] == \
        "tuned_hyperparameters"
    assert importer["componentRef"]["name"]
    plain = compile_pipeline(load_config(MODEL), target)
    assert "tuned_hyperparameters" not in tasks(plain)
    assert "hyperparameters" not in tasks(plain)["Trainer"]["inputs"].get("artifacts", {})


def test_cloud_runs_read_the_pointer_from_the_bucket(cloud, target):
    assert read_cloud_hyperparameters(target, AnonymousCredentials()) is None
    result = tuned(target)
    cloud.gcs.put(target.bucket, "hyperparameters/hyperparameters.json",
                  json.dumps(result.as_dict()).encode(), 1.7e9)
    assert read_cloud_hyperparameters(target, AnonymousCredentials()) == result


def test_cli_compiles_the_tuning_pipeline(tmp_path, target):
    from pipelines.cli.main import app

    out = tmp_path / "tune.json"
    result = CliRunner().invoke(app, ["tune", MODEL, "--cloud", "--dry-run", "--stack", "dev",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"result recorded in gs://{target.bucket}/hyperparameters" in result.output
    assert "Tuner" in tasks(json.loads(out.read_text()))
    refused = CliRunner().invoke(app, ["tune", MODEL, "--dry-run"])
    assert refused.exit_code == 2 and "--dry-run, --output and --idempotency-key are for " \
        "--cloud" in refused.output
