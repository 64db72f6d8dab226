"""Tuning wiring: the tuning pipeline, the recorded result, its Importer into the Trainer."""

import json
import os

import pytest

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.pipeline.fingerprint import run_key
from pipelines.pipeline.hyperparameters import (
    BEST_FILE,
    TRIALS_FILE,
    read_hyperparameters,
    record_hyperparameters,
)
from pipelines.pipeline.local import build_local_pipeline
from pipelines.workflows.tune import build_local_tuning_pipeline, tuning_overrides

VALUES = {"learning_rate": 0.003, "dnn_hidden_units": [32, 16], "dropout": 0.1,
          "train_batch_size": 64}


def by_id(pipeline):
    return {c.id: c for c in pipeline.components}


def tuner_outputs(tmp_path, values=VALUES, name="tuner"):
    """What the Tuner's executor writes: the best values and every trial."""
    best, results = tmp_path / name / "best", tmp_path / name / "results"
    best.mkdir(parents=True)
    results.mkdir()
    (best / BEST_FILE).write_text(json.dumps({"space": [], "values": values}))
    (results / TRIALS_FILE).write_text(json.dumps({
        "objective": "val_loss", "direction": "min", "best_trial": "1", "best_score": 1.5,
        "trials": [{"trial_id": "0", "values": values, "score": 2.0, "seconds": 3.1,
                    "status": "COMPLETED"},
                   {"trial_id": "1", "values": values, "score": 1.5, "seconds": 2.9,
                    "status": "COMPLETED"}]}))
    return str(best), str(results)


def test_without_a_tuning_result_the_trainer_imports_nothing(workspace):
    components = by_id(build_local_pipeline(load_config("basic_template"), workspace))
    assert "tuned_hyperparameters" not in components
    assert "hyperparameters" not in components["Trainer"].inputs


def test_a_recorded_result_is_imported_into_the_trainer(workspace, tmp_path):
    root = str(workspace.hyperparameters_dir("basic_template"))
    assert read_hyperparameters(root) is None
    recorded = record_hyperparameters(root, *tuner_outputs(tmp_path), now=1000.0)
    assert os.listdir(recorded.uri) == [BEST_FILE]  # the Trainer reads the only file there
    tuned = read_hyperparameters(root)
    assert tuned == recorded and tuned.values == VALUES and tuned.score == 1.5
    assert [t["trial_id"] for t in tuned.trials] == ["0", "1"]
    components = by_id(build_local_pipeline(load_config("basic_template"), workspace,
                                            hyperparameters=tuned))
    importer = components["tuned_hyperparameters"]
    assert importer.exec_properties["artifact_uri"] == tuned.uri
    assert components["Trainer"].inputs["hyperparameters"] is importer.outputs["result"]


def test_a_new_result_has_its_own_folder_and_moves_the_pointer(workspace, tmp_path):
    root = str(workspace.hyperparameters_dir("basic_template"))
    first = record_hyperparameters(root, *tuner_outputs(tmp_path), now=1000.0)
    second = record_hyperparameters(root, *tuner_outputs(tmp_path, {"dropout": 0.3}, "again"),
                                    now=2000.0)
    assert first.uri != second.uri and os.path.isdir(first.uri)
    assert read_hyperparameters(root).values == {"dropout": 0.3}


def test_two_tunings_recording_at_once_both_succeed(workspace, tmp_path, monkeypatch):
    """Two tuning pipelines of a model finishing together (each recorder writes its pointer,
    then moves it into place): neither moves the other's, and the pointer is one of them."""
    import tensorflow as tf

    root = str(workspace.hyperparameters_dir("basic_template"))
    rename, others = tf.io.gfile.rename, [tuner_outputs(tmp_path, {"dropout": 0.3}, "other")]

    def interleaved(source, target, overwrite=False):
        if others:  # the other tuning records between this one's write and its move
            record_hyperparameters(root, *others.pop(), now=2000.0)
        rename(source, target, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", interleaved)
    first = record_hyperparameters(root, *tuner_outputs(tmp_path), now=1000.0)
    assert read_hyperparameters(root) == first  # the last to move the pointer
    assert sorted(os.listdir(root)) == ["1000000", "2000000", "hyperparameters.json"]


def test_a_new_result_is_a_new_run(workspace):
    config = load_config("basic_template")
    keys = {run_key(config, None, ["sql"], "10:abc", version) for version in (None, "1", "2")}
    assert len(keys) == 3


def test_the_tuning_pipeline_cross_validates_on_folds_and_records(workspace):
    config = load_config("basic_template")
    overrides = tuning_overrides(config, max_trials=2, trial_train_steps=7)
    pipeline = build_local_tuning_pipeline(with_overrides(config, **overrides), workspace,
                                           overrides=overrides)
    assert pipeline.pipeline_info.pipeline_name == "fullcycle-basic-template-tune"
    components = by_id(pipeline)
    assert list(components) == ["DuckDBExampleGen", "StatisticsGen", "SchemaGen",
                                "ExampleValidator", "DataValidator", "DataGate", "Transform",
                                "Tuner", "HyperparametersRecorder"]
    splits = json.loads(components["DuckDBExampleGen"].exec_properties["input_config"])
    folds = ["fold_1", "fold_2", "fold_3", "fold_4", "fold_5"]
    assert [s["name"] for s in splits["splits"]] == folds
    # Transform analyses every fold: together they are the run's train split.
    assert json.loads(components["Transform"].exec_properties["splits_config"]) == \
        {"analyze": folds}
    tuner = components["Tuner"]
    assert json.loads(tuner.exec_properties["train_args"]) == {"splits": folds,
                                                                "num_steps": 7}
    assert json.loads(tuner.exec_properties["eval_args"]) == {"splits": folds}
    custom = json.loads(tuner.exec_properties["custom_config"])
    assert custom["overrides"]["tuning"]["max_trials"] == 2
    assert tuner.executor_spec.executor_class.__module__ == "pipelines.pipeline.tuner_executor"
    recorder = components["HyperparametersRecorder"]
    assert recorder.exec_properties["hyperparameters_root"] == \
        str(workspace.hyperparameters_dir("basic_template"))
    assert recorder.inputs["best_hyperparameters"] is tuner.outputs["best_hyperparameters"]


def test_a_model_without_tuning_is_told_how_to_add_it(workspace):
    from pipelines.config import FullcycleError

    config = load_config("basic_template").model_copy(update={"tuning": None})
    with pytest.raises(FullcycleError, match="has no tuning in its config.py; add e.g. "
                                             "tuning=Tuning"):
        build_local_tuning_pipeline(config, workspace)
