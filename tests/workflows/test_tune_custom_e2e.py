"""A model of its own tuned end to end: model.py's declared settings are searched, the
result adopted, and the next run's build_keras_model reads it (slow: marked e2e).

The model (tests/support/custom_model.py) has one hidden layer whose ``width`` and
``l2`` are its own settings (``config.model_args``), declared in its ``TUNABLES``.
"""

import json
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.pipeline.local import run_local
from pipelines.trainer.run_fn import HYPERPARAMETERS_FILE
from pipelines.workflows.tune import tune_local
from tests.support.custom_model import NAME, write_custom_model

pytestmark = pytest.mark.e2e


def test_a_custom_model_tunes_its_declared_settings_and_runs_with_them(models_package,
                                                                       workspace):
    write_custom_model(models_package, train_steps=30)
    config = load_config(NAME)
    tuned = tune_local(config, workspace)
    assert tuned.succeeded, tuned.error
    result = tuned.result
    assert [t["trial_id"] for t in result["trials"]][0] == "config"
    assert result["trials"][0]["values"] == {"width": 1, "l2": 0.9}
    for trial in result["trials"]:
        assert trial["status"] == "COMPLETED" and set(trial["values"]) == {"width", "l2"}
        assert trial["values"]["width"] in (1, 8, 16) and 0 <= trial["values"]["l2"] <= 0.9
        assert len(trial["fold_scores"]) == 3
    assert result["adopted"], result["trials"]
    assert result["values"]["width"] in (8, 16) and result["values"]["l2"] <= 0.01

    summary = run_local(with_overrides(config, train_steps=10), workspace,
                        overrides={"train_steps": 10}, deploy=False)
    assert summary.succeeded, summary.error
    applied = json.loads((Path(summary.artifacts["model_run"]) / HYPERPARAMETERS_FILE)
                         .read_text())
    assert applied["tuned"] and applied["model_args"] == result["values"]
    # The exported model is the one build_keras_model made with the tuned width.
    (saved,) = Path(summary.artifacts["model"]).rglob("saved_model.pb")
    assert f"hidden_{result['values']['width']}".encode() in saved.read_bytes()
    assert b"hidden_1/" not in saved.read_bytes()  # not the config's own width
