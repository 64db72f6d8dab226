"""A tiny tuning end to end, then the next run trains with its values (slow: marked e2e).

  1. ``tune_local`` (2 trials x 20 steps, after the config's own values, each
     cross-validated on 5 folds) records the adopted values and every trial under a
     new version folder and moves the pointer (the config's own learning rate is made
     too small to learn in 20 steps, so a trial beats it in every fold);
  2. an unchanged tuning is TFX's cache hit: the recorded result stands;
  3. the next ``run_local`` imports those values into its Trainer: the ModelRun says so,
     the summary and ``runs`` name the version, the report lists the trials.
"""

import json
import math
import os
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.pipeline.hyperparameters import BEST_FILE, read_hyperparameters
from pipelines.pipeline.local import run_local
from pipelines.report.runs import list_runs, run_row
from pipelines.trainer.run_fn import HYPERPARAMETERS_FILE
from pipelines.workflows.tune import tune_local, tuning_overrides

pytestmark = pytest.mark.e2e
MODEL = "basic_template"


SLOW_LEARNING_RATE = 1e-4


def tiny_tune(workspace):
    config = load_config(MODEL)
    args = config.training_args.model_dump()
    args["optimizer_kwargs"] = {"learning_rate": SLOW_LEARNING_RATE}
    overrides = {**tuning_overrides(config, max_trials=2, trial_train_steps=20),
                 "training_args": args}
    return tune_local(with_overrides(config, **overrides), workspace, overrides=overrides)


@pytest.fixture(scope="module")
def tuned(module_workspace):
    return tiny_tune(module_workspace)


def test_tune_records_the_best_values_and_every_trial(tuned, module_workspace):
    assert tuned.succeeded, tuned.error
    assert tuned.new_result
    result = read_hyperparameters(str(module_workspace.hyperparameters_dir(MODEL)))
    assert result.as_dict() == tuned.result
    assert os.listdir(result.uri) == [BEST_FILE]
    space = set(load_config(MODEL).tuning.search_space)
    assert [t["trial_id"] for t in result.trials][0] == "config" and len(result.trials) == 3
    assert result.trials[0]["values"] == {"learning_rate": SLOW_LEARNING_RATE,
                                          "dnn_hidden_units": [6, 3],
                                          "train_batch_size": 128}  # the config's own
    for trial in result.trials:
        assert trial["status"] == "COMPLETED" and set(trial["values"]) == space
        assert math.isfinite(trial["score"]) and trial["seconds"] > 0
        assert len(trial["fold_scores"]) == 5  # cross-validated on train's 5 folds
        assert trial["score"] == pytest.approx(sum(trial["fold_scores"]) / 5)
    bar = result.trials[0]["fold_scores"]
    clear = [t for t in result.trials[1:]
             if all(s < b for s, b in zip(t["fold_scores"], bar, strict=True))]
    assert clear, result.trials
    best = min(clear, key=lambda t: t["score"])
    assert result.adopted and result.values == best["values"] and result.score == best["score"]
    assert isinstance(result.values["dnn_hidden_units"], list)
    assert tuned.seconds_per_trial > 0
    assert {c["node_id"] for c in tuned.components} >= {"Transform", "Tuner",
                                                          "HyperparametersRecorder"}


def test_an_unchanged_tuning_keeps_its_result(tuned, module_workspace):
    again = tiny_tune(module_workspace)
    assert again.succeeded, again.error
    assert not again.new_result and again.result["version"] == tuned.result["version"]


def test_the_next_run_trains_with_the_tuned_values(tuned, module_workspace):
    config = with_overrides(load_config(MODEL), train_steps=30)
    summary = run_local(config, module_workspace, overrides={"train_steps": 30}, deploy=False)
    assert summary.succeeded, summary.error
    assert summary.hyperparameters["version"] == tuned.result["version"]
    applied = json.loads((Path(summary.artifacts["model_run"]) / HYPERPARAMETERS_FILE)
                         .read_text())
    assert applied["tuned"] and applied["values"] == tuned.result["values"]
    assert applied["training_args"]["dnn_hidden_units"] == \
        tuned.result["values"]["dnn_hidden_units"]
    assert applied["train_batch_size"] == tuned.result["values"]["train_batch_size"]
    assert run_row(list_runs(module_workspace, MODEL)[0])["tuned"] == tuned.result["version"]
    page = Path(summary.report).read_text()
    assert 'id="hyperparameters"' in page and page.count("<td>best</td>") == 1
