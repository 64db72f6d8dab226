"""The tuner's search space and oracle, and run_fn applying an imported tuning result."""

import json

from pipelines.config import load_config, mse_metric
from pipelines.config.registry import with_overrides


def test_search_space_as_keras_tuner_hyperparameters():
    from pipelines.trainer.tuner_fn import search_space

    config = load_config("basic_template")
    tuning = config.tuning.model_dump()
    tuning["search_space"]["dropout"] = {"kind": "uniform", "low": 0.0, "high": 0.3}
    hp = search_space(with_overrides(config, tuning=tuning))
    by_name = {p.name: p for p in hp.space}
    assert by_name["learning_rate"].sampling == "log"
    assert (by_name["learning_rate"].min_value, by_name["learning_rate"].max_value) == \
        (1e-3, 1e-1)
    assert by_name["dropout"].sampling == "linear"
    assert list(by_name["dnn_hidden_units"].values) == ["[6, 3]", "[16, 8]", "[32, 16]"]
    assert list(by_name["train_batch_size"].values) == [64, 128, 256, 512]


def test_oracle_follows_algorithm_and_objective_direction():
    import keras_tuner

    from pipelines.trainer.tuner_fn import make_oracle

    config = load_config("basic_template")
    oracle = make_oracle(config)
    assert isinstance(oracle, keras_tuner.oracles.RandomSearchOracle)
    assert (oracle.objective.name, oracle.objective.direction, oracle.max_trials) == \
        ("val_loss", "min", 6)
    tuning = {**config.tuning.model_dump(), "algorithm": "bayesian", "objective": "accuracy"}
    oracle = make_oracle(with_overrides(config, tuning=tuning))
    assert isinstance(oracle, keras_tuner.oracles.BayesianOptimizationOracle)
    assert oracle.objective.direction == "max"
    tuning["objective"] = "mse"
    spec = {"metrics": [mse_metric().model_dump()]}
    assert make_oracle(with_overrides(config, tuning=tuning, eval_metric_spec=spec)
                       ).objective.direction == "min"


def test_run_fn_trains_with_the_imported_values_and_says_so(tmp_path):
    from pipelines.trainer.run_fn import HYPERPARAMETERS_FILE, tuned_config

    config = load_config("basic_template")
    values = {"learning_rate": 0.002, "dnn_hidden_units": [32, 16], "train_batch_size": 64}
    tuned = tuned_config(config, {"space": [], "values": values}, str(tmp_path / "run"))
    assert tuned.training_args.dnn_hidden_units == (32, 16) and tuned.train_batch_size == 64
    assert tuned.training_args.optimizer_kwargs["learning_rate"] == 0.002
    written = json.loads((tmp_path / "run" / HYPERPARAMETERS_FILE).read_text())
    assert written["tuned"] and written["values"] == values
    assert written["training_args"]["dnn_hidden_units"] == [32, 16]
    same = tuned_config(config, None, str(tmp_path / "plain"))
    assert same == config
    assert not json.loads((tmp_path / "plain" / HYPERPARAMETERS_FILE).read_text())["tuned"]


def test_a_proposal_must_strictly_beat_the_configs_own_score():
    from pipelines.pipeline.tuner_executor import beats

    assert beats(1.0, 1.5, "min") and not beats(1.5, 1.5, "min") and not beats(2.0, 1.5, "min")
    assert beats(0.9, 0.8, "max") and not beats(0.8, 0.8, "max")


def trial(trial_id, folds, status="COMPLETED"):
    return {"trial_id": trial_id, "values": {"learning_rate": float(trial_id)},
            "score": sum(folds) / len(folds) if folds else None, "fold_scores": folds,
            "status": status}


def test_a_trial_is_adopted_only_if_it_beats_the_config_in_every_fold():
    from pipelines.pipeline.tuner_executor import choose

    config = {**trial("0", [1.0, 1.2, 1.1]), "trial_id": "config"}
    # Best on average by one lucky fold (the case bench/RESULTS.md found): kept.
    lucky = trial("1", [0.5, 1.25, 1.0])
    assert choose([lucky], config, "min") == (config, False)
    # Equal in a fold is not better; a failed trial never counts.
    assert choose([trial("2", [0.9, 1.2, 1.0]), trial("3", [0.1, 0.1, 0.1], "FAILED")],
                  config, "min") == (config, False)
    # Of the trials better in every fold, the best on average.
    steady, steadier = trial("4", [0.99, 1.19, 1.09]), trial("5", [0.9, 1.1, 1.0])
    assert choose([lucky, steady, steadier], config, "min") == (steadier, True)
    # Metrics to maximise: higher in every fold.
    accuracy = {**trial("6", [0.8, 0.7, 0.75]), "trial_id": "config"}
    assert choose([trial("7", [0.81, 0.71, 0.76])], accuracy, "max")[1]
    assert not choose([trial("8", [0.99, 0.69, 0.99])], accuracy, "max")[1]
