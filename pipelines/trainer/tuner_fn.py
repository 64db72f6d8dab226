"""The Tuner's ``tuner_fn``: a keras-tuner search whose trials fullcycle trains itself.

keras-tuner 1.4's ready-made tuners refuse tf-keras models (they check for Keras 3
models, keras-tuner#1039), so :class:`FullcycleTuner` subclasses its
``BaseTuner`` and only borrows the search: the oracle proposes values, and each
trial is cross-validated on the train split's folds (``fold_1`` ..): trained once
per fold on the other folds, with the same builders and input pipeline as
``run_fn`` and as long as a run trains (or ``trial_train_steps`` steps), and
scored on that fold; its objective is the mean over folds (the eval split is never
read). Before the search, the config's own values are scored the same way (trial
``config``): the bar every proposal has to beat, fold by fold.
Referenced by dotted path (``pipelines.trainer.tuner_fn.tuner_fn``).
"""

from __future__ import annotations

import os
import time
from statistics import mean
from typing import Any

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from keras_tuner.engine import base_tuner
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from pipelines.config.model_config import ModelConfig
from pipelines.config.registry import custom_model_module
from pipelines.config.tuning import (
    Choice,
    LogUniform,
    apply_hyperparameters,
    current_values,
    decode_values,
    encoded_choices,
    objective_direction,
)
from pipelines.trainer.builders import build_keras_model
from pipelines.trainer.run_fn import config_from_custom_config, input_dataset


def search_space(config: ModelConfig) -> keras_tuner.HyperParameters:
    """The config's search space as keras-tuner hyperparameters."""
    hp = keras_tuner.HyperParameters()
    for name, parameter in config.tuning.search_space.items():
        if isinstance(parameter, Choice):
            hp.Choice(name, encoded_choices(parameter))
        else:
            hp.Float(name, parameter.low, parameter.high,
                     sampling="log" if isinstance(parameter, LogUniform) else "linear")
    return hp


def make_oracle(config: ModelConfig) -> keras_tuner.Oracle:
    """Random search or Bayesian optimisation over the config's space, seeded."""
    tuning = config.tuning
    kwargs = dict(objective=keras_tuner.Objective(tuning.objective,
                                                  objective_direction(config)),
                  max_trials=tuning.max_trials, hyperparameters=search_space(config),
                  seed=config.seed, tune_new_entries=False, allow_new_entries=False)
    if tuning.algorithm == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(**kwargs)
    return keras_tuner.oracles.RandomSearchOracle(**kwargs)


class FullcycleTuner(base_tuner.BaseTuner):
    """Cross-validates each trial with fullcycle's model builders on the train folds."""

    def __init__(self, config: ModelConfig, fn_args: FnArgs, **kwargs: Any):
        super().__init__(oracle=make_oracle(config), **kwargs)
        self.config, self.fn_args = config, fn_args
        self.transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
        self.transform = self.transform_output.transform_features_layer()
        self.seconds: dict[str, float] = {}
        self.fold_scores: dict[str, list[float]] = {}  # trial id -> objective per fold
        self.reference: dict[str, Any] | None = None  # the config's own values, scored

    def values(self, trial) -> dict[str, Any]:
        """The trial's values as the model config takes them."""
        return decode_values(self.config.tuning, trial.hyperparameters.values)

    def on_search_begin(self) -> None:
        """Scores the config's own values first: trial ``config``, the bar to beat."""
        super().on_search_begin()
        started = time.monotonic()
        folds = self.cross_validate(self.config)
        self.reference = {
            "trial_id": "config", "status": "COMPLETED", "score": mean(folds),
            "fold_scores": folds,
            "values": current_values(self.config, self.config.tuning.search_space),
            "seconds": time.monotonic() - started}
        logging.info("the config's own values: %s = %.6g", self.config.tuning.objective,
                     mean(folds))

    def run_trial(self, trial, *fit_args: Any, **fit_kwargs: Any) -> dict[str, float]:
        started = time.monotonic()
        config = apply_hyperparameters(self.config, self.values(trial))
        self.fold_scores[trial.trial_id] = folds = self.cross_validate(config)
        self.seconds[trial.trial_id] = time.monotonic() - started
        logging.info("trial %s: %s = %.6g in %.1f s", trial.trial_id, config.tuning.objective,
                     mean(folds), self.seconds[trial.trial_id])
        return {config.tuning.objective: mean(folds)}

    def cross_validate(self, config: ModelConfig) -> list[float]:
        """The objective of ``config`` on each fold, trained on the other folds."""
        folds = self.fn_args.train_files  # one file pattern per fold, in fold order
        if len(folds) < 2:
            raise ValueError(f"cross-validation needs at least 2 folds; the Tuner was given "
                             f"{folds}")
        return [self.train_and_score(config, folds[:i] + folds[i + 1:], [fold])
                for i, fold in enumerate(folds)]

    def train_and_score(self, config: ModelConfig, train_files: list[str],
                        validation_files: list[str]) -> float:
        """Trains ``config``'s model as a run would (or ``trial_train_steps`` steps) on
        ``train_files``, from the same seed every time; its objective on the validation."""
        tf.keras.utils.set_random_seed(config.seed)
        train = input_dataset(train_files, self.transform_output, config,
                              config.train_batch_size, num_epochs=1, keep_in_memory=True,
                              transform=self.transform)
        steps = (config.tuning.trial_train_steps or config.train_steps
                 or int(train.cardinality()) * config.num_epochs)
        validation = input_dataset(validation_files, self.transform_output, config,
                                   config.eval_batch_size, num_epochs=1,
                                   transform=self.transform)
        model = build_keras_model(config, custom_model_module(config.name))
        model.fit(train.repeat(), epochs=1, steps_per_epoch=steps, verbose=0)
        return self.score(model, validation, config)

    @staticmethod
    def score(model: tf.keras.Model, validation: tf.data.Dataset, config: ModelConfig) -> float:
        """The objective on a held-out fold: the model's loss or an eval metric."""
        objective = config.tuning.objective
        if objective == "val_loss":
            return float(model.evaluate(validation, verbose=0, return_dict=True)["loss"])
        threshold = next(m for m in config.eval_metric_spec.metrics if m.name == objective)
        metric = getattr(tf.keras.metrics, threshold.class_name(config.task))()
        for features, label in validation:
            metric.update_state(label, model(features, training=False))
        return float(metric.result())

    def save_model(self, trial_id: str, model: tf.keras.Model, step: int = 0) -> None:
        """Trial models are not kept: the best values are, and the next run trains with them."""


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    """The TFX Tuner's entry point: a FullcycleTuner over the config's search space."""
    config = config_from_custom_config(fn_args.custom_config)
    if config.tuning is None:
        raise ValueError(f"model {config.name!r} has no tuning=Tuning(...) in its config")
    tuner = FullcycleTuner(config, fn_args, directory=fn_args.working_dir,
                           project_name=config.name, overwrite=True)
    # keras-tuner prints each trial to stdout unless told otherwise (the summary lists them).
    return TunerFnResult(tuner=tuner,
                         fit_kwargs={"verbose": 1 if os.environ.get("FULLCYCLE_VERBOSE") else 0})
