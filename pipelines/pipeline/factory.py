"""Builds the TFX pipeline for one model config.

Steps, in order:
  1. ExampleGen      - SQL per split (BigQuery in the cloud, DuckDB locally), hash splits
  2. StatisticsGen   - per-split feature statistics (in one process locally, no Beam)
  3. SchemaGen       - inferred schema, or the model folder's curated ``schema.pbtxt``
  4. ExampleValidator- anomalies of statistics against the schema
  5. Importers       - the data baseline: the last blessed run's statistics and schema
  6. DataValidator   - every finding: declared columns, anomalies, drift, missing values,
                       type, domain and row count against the baseline
  7. DataGate        - stops the run on any finding whose action is ``block``
  8. Transform       - config-driven ``preprocessing_fn`` (Dataflow in the cloud)
  9. Trainer         - prebuilt or custom Keras model via ``run_fn``, with the model's
                       last tuning result when it has one (an Importer of its folder)
 10. Resolver        - the baseline model: the latest blessed one in ML Metadata (locally),
                       or the one the BaselineRecorder kept (an Importer, on Vertex AI)
 11. Evaluator       - metric thresholds and change limits against the baseline
 12. BaselineRecorder- a blessed run's data and model become the next run's baseline
 13. InfraValidator  - load-and-query in a separate serving process (errors, NaN, latency)
 14. Pusher          - only a blessed, infra-validated model is pushed

The tuning pipeline (``tuning_root`` given) is steps 1-8 on the train split cut
into cross-validation folds (``fold_1`` ..), then the Tuner and the
HyperparametersRecorder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# Direct imports: ``tfx.v1`` also loads every cloud extension (about 4 s per process).
from tfx.components import (
    Evaluator,
    ExampleValidator,
    Pusher,
    SchemaGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base.base_node import BaseNode
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types import Channel, standard_artifacts

from pipelines.config.model_config import ModelConfig
from pipelines.config.registry import model_dir, preprocessing_fn_path
from pipelines.features.kinds import FORCE_TF_COMPAT_V1, TRANSFORM_FIELDS
from pipelines.pipeline.baseline import Baseline, BaselineRecorder
from pipelines.pipeline.eval_config import build_eval_config
from pipelines.pipeline.fingerprint import code_fingerprint
from pipelines.pipeline.gate import DataGate, DataValidator, expected_types
from pipelines.pipeline.infra_validator import InfraValidator
from pipelines.pipeline.statistics import StatisticsGen
from pipelines.stack.names import slug

if TYPE_CHECKING:
    from pipelines.pipeline.hyperparameters import TunedHyperparameters

RUN_FN = "pipelines.trainer.run_fn.run_fn"


def pipeline_name(model: str) -> str:
    """The pipeline's name: lowercase with dashes, as Vertex AI Pipelines requires."""
    return f"fullcycle-{slug(model)}"


def tuning_splits_config(config: ModelConfig):
    """Transform in the tuning pipeline: analyse every fold (together, the train split)."""
    from tfx.proto import transform_pb2

    from pipelines.data.splits import fold_names

    return transform_pb2.SplitsConfig(analyze=fold_names(config.tuning.folds))


def tuning_pipeline_name(model: str) -> str:
    """The tuning pipeline's name (its own runs, apart from the model's runs)."""
    return f"{pipeline_name(model)}-tune"


def component_custom_config(config: ModelConfig, overrides: dict[str, Any] | None, code: str,
                            fields: frozenset[str] | None = None) -> dict:
    """What Transform or Trainer receives: the model, run overrides, and the code hash."""
    overrides = {k: v for k, v in (overrides or {}).items() if fields is None or k in fields}
    return {"model": config.name, "overrides": overrides, "code": code}


def create_pipeline(
    config: ModelConfig,
    *,
    example_gen: BaseNode,
    pipeline_root: str,
    beam_pipeline_args: list[str],
    make_pusher: Callable[[Any, Any, Any, Any, Any], BaseNode] | None = None,
    serving_model_dir: str | None = None,
    metadata_connection_config: Any = None,
    enable_cache: bool = True,
    overrides: dict[str, Any] | None = None,
    baseline: Baseline | None = None,
    baseline_root: str | None = None,
    recorded_model_baseline: bool = False,
    hyperparameters: TunedHyperparameters | None = None,
    tuning_root: str | None = None,
) -> Pipeline:
    """The full pipeline for ``config``.

    Args:
      config: the validated model config (with overrides already applied).
      example_gen: the ExampleGen for this platform (BigQuery or DuckDB).
      pipeline_root: where artifacts go (a local directory or a ``gs://`` path).
      beam_pipeline_args: Beam options (DirectRunner locally, Dataflow in the cloud).
      make_pusher: builds a platform-specific Pusher from the model, blessing, infra
        blessing (None when disabled), evaluation and statistics channels (the last
        two for the model card); by default a filesystem Pusher to ``serving_model_dir``.
      serving_model_dir: the push destination for the default Pusher.
      metadata_connection_config: ML Metadata store (SQLite locally; None on Vertex).
      enable_cache: reuse outputs of components whose inputs did not change.
      overrides: run-time config overrides, passed to Transform and Trainer.
      baseline: the model's data baseline (the last blessed run's statistics and
        schema); None on the first run.
      baseline_root: where a blessed run records itself as the next baseline.
      recorded_model_baseline: the Evaluator's baseline model is the one ``baseline``
        recorded (imported), not the latest blessed model in ML Metadata. On Vertex AI
        the resolver's models live under a ``pipeline_root`` that ages out; the
        recorded one does not. Without a recorded model (the first blessed run, or a
        baseline recorded before models were), the candidate is judged by the value
        thresholds alone, as on a first run.
      hyperparameters: the model's last tuning result, trained with; None: the config's.
      tuning_root: builds the tuning pipeline instead, recording its result there
        (``example_gen`` then gives the folds of ``tuning_split_queries``).
    """

    code = code_fingerprint(config.name)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])

    # A curated schema in the model folder pins what "good data" is; otherwise infer it.
    schema_file = model_dir(config.name) / "schema.pbtxt"
    if schema_file.exists():
        schema_gen = ImportSchemaGen(schema_file=str(schema_file))
    else:
        # No fixed shapes: a column may miss values, at training and at serving alike
        # (the transform imputes them), so every raw feature is parsed as optional.
        schema_gen = SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False)

    # Guards the schema: records missing columns, type changes, out-of-domain values.
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])

    # Guards against data unlike the data the served model was trained on.
    baseline_nodes, baseline_inputs = [], {}
    if baseline is not None:
        statistics = Importer(
            source_uri=baseline.statistics_uri, artifact_type=standard_artifacts.ExampleStatistics,
            properties={"split_names": baseline.split_names}).with_id("baseline_statistics")
        schema = Importer(source_uri=baseline.schema_uri,
                          artifact_type=standard_artifacts.Schema).with_id("baseline_schema")
        baseline_nodes = [statistics, schema]
        baseline_inputs = {"baseline_statistics": statistics.outputs["result"],
                           "baseline_schema": schema.outputs["result"]}
    data_validator = DataValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        expected_features=json.dumps(expected_types(config), sort_keys=True),
        checks=config.data_validation.model_dump_json(),
        baseline=json.dumps(baseline.as_dict()) if baseline else "",
        **baseline_inputs)

    # Guards training: nothing downstream runs when a finding blocks the run.
    data_gate = DataGate(findings=data_validator.outputs["findings"])

    # Guards train/serve skew: the same transform graph is exported with the model.
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=preprocessing_fn_path(config.name),
        custom_config=component_custom_config(config, overrides, code, TRANSFORM_FIELDS),
        disable_statistics=True,  # StatisticsGen already computed them
        force_tf_compat_v1=FORCE_TF_COMPAT_V1,
        # The Trainer applies the transform graph to the raw examples as it reads them
        # (as serving does): no transformed copy of every row is written.
        materialize=False,
        # Its analyzer cache serves re-analysing the same data span; a run here is cached
        # whole by TFX when nothing changed, so writing one only costs time.
        disable_analyzer_cache=True,
        # Tuning reads the train split as cross-validation folds: analysed together, they
        # are the run's train split, so trials see the transform a run's model sees.
        splits_config=tuning_splits_config(config) if tuning_root is not None else None)
    transform.add_upstream_node(data_gate)

    if tuning_root is not None:
        from pipelines.pipeline.tuner import tuning_nodes

        # Guards the eval split: trials fit and are scored on folds of train; the
        # recorded result is what every later run trains with.
        return Pipeline(
            pipeline_name=tuning_pipeline_name(config.name), pipeline_root=pipeline_root,
            components=[example_gen, statistics_gen, schema_gen, example_validator,
                        *baseline_nodes, data_validator, data_gate, transform, *tuning_nodes(
                            config, examples=example_gen.outputs["examples"],
                            schema=schema_gen.outputs["schema"],
                            transform_graph=transform.outputs["transform_graph"],
                            custom_config=component_custom_config(config, overrides, code),
                            hyperparameters_root=tuning_root)],
            enable_cache=enable_cache, metadata_connection_config=metadata_connection_config,
            beam_pipeline_args=beam_pipeline_args)

    # Tuned values by URI: a new tuning result is a new input, so the Trainer re-runs.
    tuned_nodes, tuned_input = [], {}
    if hyperparameters is not None:
        tuned = Importer(source_uri=hyperparameters.uri,
                         artifact_type=standard_artifacts.HyperParameters
                         ).with_id("tuned_hyperparameters")
        tuned_nodes, tuned_input = [tuned], {"hyperparameters": tuned.outputs["result"]}

    trainer = Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(num_steps=config.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=config.eval_steps),
        custom_config=component_custom_config(config, overrides, code), **tuned_input)

    # The last blessed model: the baseline the candidate must not be worse than.
    model_baseline, baseline_model = _model_baseline(baseline, recorded_model_baseline)

    # Guards the serving model: blessing needs every threshold and change limit met.
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model,
        eval_config=build_eval_config(config))

    components = [example_gen, statistics_gen, schema_gen, example_validator, *baseline_nodes,
                  data_validator, data_gate, transform, *tuned_nodes, trainer, *model_baseline,
                  evaluator]
    if baseline_root is not None:
        # Moves the data baseline only when the candidate is blessed.
        components.append(BaselineRecorder(
            statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
            blessing=evaluator.outputs["blessing"], model=trainer.outputs["model"],
            baseline_root=baseline_root))
    infra_blessing = None
    if config.infra_validation.enabled:
        # Serves the candidate in a separate process and queries it with eval examples.
        check = config.infra_validation
        infra_validator = InfraValidator(
            model=trainer.outputs["model"], examples=example_gen.outputs["examples"],
            split="eval",
            label_key=config.label_key, requests=check.requests, batch_size=check.batch_size,
            max_latency_ms=check.max_latency_ms, timeout_seconds=check.timeout_seconds)
        infra_blessing = infra_validator.outputs["blessing"]
        components.append(infra_validator)
    if config.enable_pusher:
        # Only a blessed, servable model reaches serving; the served model stays otherwise.
        if make_pusher is not None:
            pusher = make_pusher(trainer.outputs["model"], evaluator.outputs["blessing"],
                                 infra_blessing, evaluator.outputs["evaluation"],
                                 statistics_gen.outputs["statistics"])
        else:
            pusher = Pusher(
                model=trainer.outputs["model"],
                model_blessing=evaluator.outputs["blessing"],
                infra_blessing=infra_blessing,
                push_destination=pusher_pb2.PushDestination(
                    filesystem=pusher_pb2.PushDestination.Filesystem(
                        base_directory=serving_model_dir)))
        components.append(pusher)

    return Pipeline(
        pipeline_name=pipeline_name(config.name),
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)


def _model_baseline(baseline: Baseline | None, recorded: bool) -> tuple[list[BaseNode], Any]:
    """The node giving the Evaluator its baseline model, and its channel (none: thresholds
    alone)."""
    if not recorded:  # ML Metadata's latest blessed model (a local pipeline_root stays)
        resolver = Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        return [resolver], resolver.outputs["model"]
    if baseline is None or not baseline.model_uri:
        return [], None
    importer = Importer(source_uri=baseline.model_uri,
                        artifact_type=standard_artifacts.Model).with_id("baseline_model")
    return [importer], importer.outputs["result"]
