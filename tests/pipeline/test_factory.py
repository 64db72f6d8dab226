"""Pipeline wiring: every component, in order, guarded, with no module_file wheels."""

import json

import pytest

from pipelines.config import FullcycleError, load_config
from pipelines.config.registry import with_overrides
from pipelines.pipeline.factory import code_fingerprint, pipeline_name
from pipelines.pipeline.local import build_local_pipeline, check_source


@pytest.fixture
def pipeline(workspace):
    return build_local_pipeline(load_config("basic_template"), workspace)


def by_id(pipeline):
    return {c.id: c for c in pipeline.components}


def test_components_in_order(pipeline):
    assert [c.id for c in pipeline.components] == [
        "DuckDBExampleGen", "latest_blessed_model_resolver", "StatisticsGen", "SchemaGen",
        "ExampleValidator", "DataValidator", "DataGate", "Transform", "Trainer", "Evaluator",
        "InfraValidator", "BaselineRecorder", "Pusher"]
    assert pipeline.pipeline_info.pipeline_name == "fullcycle-basic-template"


def test_pusher_needs_the_infra_blessing(pipeline):
    components = by_id(pipeline)
    validator = components["InfraValidator"]
    assert validator in components["Pusher"].upstream_nodes
    assert validator.exec_properties["split"] == "eval"
    assert validator.exec_properties["label_key"] == "label"
    assert components["Pusher"].inputs["infra_blessing"] is validator.outputs["blessing"]


def test_transform_waits_for_the_data_gate(pipeline):
    components = by_id(pipeline)
    assert components["DataGate"] in components["Transform"].upstream_nodes
    assert components["DataGate"].inputs["findings"] is \
        components["DataValidator"].outputs["findings"]
    validator = components["DataValidator"]
    assert "baseline_statistics" not in validator.inputs  # no blessed run yet: no baseline
    expected = json.loads(validator.exec_properties["expected_features"])
    assert expected["numeric_feature1"] == ["INT", "FLOAT"]
    assert expected["categorical_calculated"] == ["INT"]
    assert expected["label"] == ["INT", "FLOAT"]


def test_code_is_referenced_by_dotted_path(pipeline):
    components = by_id(pipeline)
    transform, trainer = components["Transform"], components["Trainer"]
    assert transform.exec_properties["preprocessing_fn"] == \
        "pipelines.features.transform.preprocessing_fn"
    assert trainer.exec_properties["run_fn"] == "pipelines.trainer.run_fn.run_fn"
    assert not transform.exec_properties.get("module_file")
    assert not trainer.exec_properties.get("module_file")
    custom = json.loads(trainer.exec_properties["custom_config"])
    assert custom["model"] == "basic_template" and custom["code"] == code_fingerprint(
        "basic_template")


def test_example_gen_has_split_queries_and_data_fingerprint(pipeline):
    example_gen = by_id(pipeline)["DuckDBExampleGen"]
    splits = example_gen.exec_properties["input_config"]
    assert "FARM_FINGERPRINT" in splits and "train" in splits and "eval" in splits
    assert example_gen.exec_properties["data_fingerprint"].startswith("2000:")


def test_evaluator_compares_with_latest_blessed_model(pipeline):
    components = by_id(pipeline)
    evaluator = components["Evaluator"]
    assert "baseline_model" in evaluator.inputs
    eval_config = json.loads(evaluator.exec_properties["eval_config"])
    mse = eval_config["metrics_specs"][0]["metrics"][1]
    (gate,) = mse["per_slice_thresholds"]
    assert gate["slicing_specs"] == [{}]
    assert gate["threshold"]["value_threshold"]["upper_bound"] == 25.0
    assert gate["threshold"]["change_threshold"] == {"absolute": 1.0,
                                                     "direction": "LOWER_IS_BETTER"}


def test_pusher_is_optional(workspace):
    config = with_overrides(load_config("basic_template"), enable_pusher=False)
    assert "Pusher" not in by_id(build_local_pipeline(config, workspace))


def test_step_overrides_reach_trainer(workspace):
    config = with_overrides(load_config("basic_template"), train_steps=5, eval_steps=2)
    trainer = by_id(build_local_pipeline(config, workspace, {"train_steps": 5}))["Trainer"]
    assert json.loads(trainer.exec_properties["train_args"])["num_steps"] == 5
    assert json.loads(trainer.exec_properties["eval_args"])["num_steps"] == 2


def test_source_missing_a_declared_column_is_refused(workspace):
    from pipelines.data import warehouse

    con = warehouse.connect(workspace.warehouse, read_only=False)
    con.execute("ALTER TABLE basic_template RENAME COLUMN numeric_feature2 TO numeric_featur2")
    con.close()
    with pytest.raises(FullcycleError, match=r"the source has no column 'numeric_feature2' "
                                             r"\(did you mean \"numeric_featur2\"\?\)"):
        check_source(load_config("basic_template"), workspace)


def test_pipeline_name_is_vertex_compatible():
    assert pipeline_name("Taxi_Tips") == "fullcycle-taxi-tips"


def test_a_recorded_baseline_is_imported_for_the_data_validator(workspace, tmp_path):
    from pipelines.pipeline.baseline import record_baseline

    statistics, schema = tmp_path / "stats" / "Split-train", tmp_path / "schema"
    statistics.mkdir(parents=True)
    schema.mkdir()
    (statistics / "FeatureStats.pb").write_bytes(b"")
    (schema / "schema.pbtxt").write_text("")
    recorded = record_baseline(str(workspace.baseline_dir("basic_template")),
                               str(tmp_path / "stats"), str(schema), '["train"]')
    assert (workspace.baseline_dir("basic_template") / recorded.version / "statistics" /
            "Split-train" / "FeatureStats.pb").exists()
    components = by_id(build_local_pipeline(load_config("basic_template"), workspace))
    validator = components["DataValidator"]
    imported = components["baseline_statistics"]
    assert validator.inputs["baseline_statistics"] is imported.outputs["result"]
    assert imported.exec_properties["artifact_uri"] == recorded.statistics_uri
    assert json.loads(validator.exec_properties["baseline"])["version"] == recorded.version
    assert components["BaselineRecorder"].exec_properties["baseline_root"] == \
        str(workspace.baseline_dir("basic_template"))


def test_trainer_transforms_the_raw_examples_itself(pipeline):
    components = by_id(pipeline)
    transform, trainer = components["Transform"], components["Trainer"]
    assert transform.exec_properties["force_tf_compat_v1"] == 1
    assert "transformed_examples" not in transform.outputs  # materialize=False: no copy written
    assert trainer.inputs["examples"] is components["DuckDBExampleGen"].outputs["examples"]
    assert trainer.inputs["transform_graph"] is transform.outputs["transform_graph"]


def test_beam_runs_in_process_below_parallel_rows_and_on_every_core_above(monkeypatch):
    from pipelines.pipeline.local import PARALLEL_ROWS, local_beam_args, source_rows

    monkeypatch.delenv("FULLCYCLE_BEAM_WORKERS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert source_rows("2000:123") == 2000
    assert local_beam_args(PARALLEL_ROWS - 1)[:2] == ["--direct_running_mode=in_memory",
                                                      "--direct_num_workers=1"]
    assert local_beam_args(PARALLEL_ROWS)[:2] == ["--direct_running_mode=multi_processing",
                                                  "--direct_num_workers=2"]
    monkeypatch.setenv("FULLCYCLE_BEAM_WORKERS", "1")
    assert local_beam_args(10 * PARALLEL_ROWS)[0] == "--direct_running_mode=in_memory"
    monkeypatch.setenv("FULLCYCLE_BEAM_WORKERS", "two")
    with pytest.raises(FullcycleError, match="FULLCYCLE_BEAM_WORKERS='two': give a whole"):
        local_beam_args(10)
