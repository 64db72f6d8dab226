"""Tuning as pipeline components: TFX's Tuner with fullcycle's tuner_fn, and the recorder.

The Tuner runs ``pipelines.trainer.tuner_fn.tuner_fn`` with the executor of
``pipeline.tuner_executor``; the HyperparametersRecorder makes its result the
one every later run trains with (``pipeline.hyperparameters``).
"""

from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import HyperParameters, TunerResults

from pipelines.pipeline.hyperparameters import record_hyperparameters

TUNER_FN = "pipelines.trainer.tuner_fn.tuner_fn"


@component
def HyperparametersRecorder(  # noqa: N802 - TFX components are named like classes
    best_hyperparameters: InputArtifact[HyperParameters],
    tuner_results: InputArtifact[TunerResults],
    hyperparameters_root: Parameter[str],
) -> None:
    """Makes this tuning's best values the ones every later run of the model trains with."""
    record_hyperparameters(hyperparameters_root, best_hyperparameters.uri, tuner_results.uri)


def tuning_nodes(config, *, examples, schema, transform_graph, custom_config: dict,
                 hyperparameters_root: str) -> list:
    """The Tuner (cross-validation on the train split's folds) and the recorder."""
    from tfx.proto import trainer_pb2

    from pipelines.data.splits import fold_names
    from pipelines.pipeline.tuner_executor import Tuner

    # Every fold in both: each trial trains on all folds but one and is scored on it.
    folds = fold_names(config.tuning.folds)
    tuner = Tuner(
        tuner_fn=TUNER_FN, examples=examples, schema=schema, transform_graph=transform_graph,
        train_args=trainer_pb2.TrainArgs(splits=folds, num_steps=config.tuning.trial_train_steps),
        eval_args=trainer_pb2.EvalArgs(splits=folds),
        custom_config=custom_config)
    recorder = HyperparametersRecorder(
        best_hyperparameters=tuner.outputs["best_hyperparameters"],
        tuner_results=tuner.outputs["tuner_results"],
        hyperparameters_root=hyperparameters_root)
    return [tuner, recorder]
