"""Every sample model compiles for Vertex AI Pipelines, offline, with the cloud wiring."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cloud.compile import compile_pipeline
from pipelines.cloud.target import CloudTarget
from pipelines.config import ConfigError, list_models, load_config
from pipelines.stack.config import StackConfig

# The dev stack names no image: the one pulumi up builds from this tree, by content tag.
IMAGE = StackConfig.from_stack_file("dev").image
TASKS = {"BigQueryExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataGate",
         "Transform", "Trainer", "Evaluator", "InfraValidator", "Pusher"}


@pytest.fixture(scope="module", params=list_models())
def compiled(request):
    target = CloudTarget.from_stack(request.param, "dev")
    return request.param, target, compile_pipeline(load_config(request.param), target)


def executor_args(spec: dict, task: str) -> list[str]:
    executor = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    component = spec["pipelineSpec"]["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    label = spec["pipelineSpec"]["components"][component]["executorLabel"]
    return executor[label]["container"]["args"]


def test_all_tasks_present_with_runner_image(compiled):
    model, _, spec = compiled
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert TASKS <= set(tasks), set(tasks)
    assert spec["displayName"] == f"fullcycle-{model.replace('_', '-')}"
    for name, executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].items():
        if "container" in executor:
            assert executor["container"]["image"] == IMAGE, name


def test_dataflow_as_the_model_account_and_bucket(compiled):
    model, target, spec = compiled
    text = json.dumps(spec)
    for arg in ("--runner=DataflowRunner", f"--service_account_email={target.service_account}",
                f"--temp_location=gs://{target.bucket}/tmp", f"--sdk_container_image={IMAGE}",
                "--project=fullcycle-dev", "--region=europe-west4"):
        assert arg in text, arg
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == f"gs://{target.bucket}/pipeline_root"


def test_example_gen_queries_bigquery_with_hash_splits(compiled):
    model, target, spec = compiled
    text = json.dumps(spec)
    assert f"`fullcycle-dev.{target.dataset}`" in text
    assert "MOD(ABS(FARM_FINGERPRINT(" in text


def test_no_module_file_wheels_and_code_by_path(compiled):
    _, _, spec = compiled
    text = json.dumps(spec)
    assert "module_file" not in text and "module_path" not in text and ".whl" not in text
    assert "pipelines.trainer.run_fn.run_fn" in text
    assert "preprocessing_fn" in text


def test_pusher_deploys_to_the_model_endpoint_at_first_canary_weight(compiled):
    model, target, spec = compiled
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    pusher = tasks["Pusher"]
    assert target.endpoint == f"fc-{model.replace('_', '-')}"
    pushed_to = json.loads(pusher["inputs"]["parameters"]["target"]["runtimeValue"]
                           ["constantValue"]["stringValue"])
    assert pushed_to["endpoint"] == target.endpoint and pushed_to["first_canary_weight"] == 10
    assert pusher["inputs"]["artifacts"]["infra_blessing"]["taskOutputArtifact"] == {
        "outputArtifactKey": "blessing", "producerTask": "InfraValidator"}
    # the model card is made from the evaluation and the statistics, with the config
    assert pusher["inputs"]["artifacts"]["evaluation"]["taskOutputArtifact"] == {
        "outputArtifactKey": "evaluation", "producerTask": "Evaluator"}
    assert pusher["inputs"]["artifacts"]["statistics"]["taskOutputArtifact"] == {
        "outputArtifactKey": "statistics", "producerTask": "StatisticsGen"}
    card_config = json.loads(pusher["inputs"]["parameters"]["model_config"]["runtimeValue"]
                             ["constantValue"]["stringValue"])
    assert card_config["name"] == model and "model_card" in card_config
    executors = json.dumps(spec["pipelineSpec"]["deploymentSpec"]["executors"])
    assert "pipelines.cloud.pusher.VertexPusher_Executor" in executors
    assert "pipelines.pipeline.infra_validator.InfraValidator_Executor" in executors


def test_model_missing_from_stack_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"unknown model in stack 'dev' 'churn'; known: "
                                          r"basic_template, taxi_tips; add it to"):
        CloudTarget.from_stack("churn", "dev")


def test_compile_cli_writes_the_spec(tmp_path):
    from pipelines.cli.main import app

    out = tmp_path / "basic.json"
    result = CliRunner().invoke(app, ["compile", "basic_template", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "gs://fullcycle-dev-fc-basic-template/pipeline_root" in result.output
    assert json.loads(out.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]


def test_fairness_gate_is_in_the_vertex_spec_by_module():
    """The Evaluator on Vertex imports FairnessGate from the package the runner image installs."""
    from pipelines.config import Fairness, fairness_metric
    from pipelines.config.registry import with_overrides

    config = with_overrides(load_config("taxi_tips"), fairness=Fairness(
        slice_by=["payment_type", "company"], min_slice_size=50,
        metrics=[fairness_metric("false_positive_rate", max_gap=0.1)]))
    spec = compile_pipeline(config, CloudTarget.from_stack("taxi_tips", "dev"))
    evaluator = spec["pipelineSpec"]["root"]["dag"]["tasks"]["Evaluator"]
    eval_config = json.loads(evaluator["inputs"]["parameters"]["eval_config"]["runtimeValue"]
                             ["constantValue"]["stringValue"])
    (gate,) = [m for m in eval_config["metrics_specs"][0]["metrics"]
               if m["class_name"] == "FairnessGate"]
    assert gate["module"] == "pipelines.pipeline.fairness_metric"
    settings = json.loads(gate["config"])["fairness"]
    assert settings["slice_by"] == ["payment_type", "company"]
    assert settings["metrics"][0] == {"name": "false_positive_rate", "max_gap": 0.1,
                                      "lower_bound": None, "upper_bound": None}
    (threshold,) = gate["per_slice_thresholds"]
    assert threshold["threshold"]["value_threshold"]["upper_bound"] == 0.0
    # The runner image copies the whole `pipelines` package, so the module is there.
    dockerfile = Path(__file__).parents[2] / "runner_image" / "Dockerfile"
    assert "COPY pipelines ./pipelines" in dockerfile.read_text()
