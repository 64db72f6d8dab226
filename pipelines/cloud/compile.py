"""Compiles a model's pipeline for Vertex AI Pipelines (KFP v2 JSON), offline.

The factory is the local one; the twins are swapped for the cloud parts:
BigQueryExampleGen with the same split SQL in BigQuery's dialect, Beam on
Dataflow (running as the model's service account, in the runner image), the
model's bucket as pipeline root, and the VertexPusher uploading a new model
version and deploying it to the model's endpoint at the first canary weight.
The model's last tuning result (``gs://<bucket>/hyperparameters/``) is imported into
the Trainer, as the data baseline is; the tuning pipeline compiles the same way.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.cloud.target import CloudTarget
from pipelines.config.model_config import ModelConfig
from pipelines.stack.names import BASELINE_PREFIX, HYPERPARAMETERS_PREFIX

if TYPE_CHECKING:
    from pipelines.pipeline.baseline import Baseline
    from pipelines.pipeline.hyperparameters import TunedHyperparameters


def _read_pointer(target: CloudTarget, name: str, credentials) -> dict | None:
    """The JSON object ``name`` of the model's bucket; None when it does not exist."""
    from google.cloud import storage

    from pipelines.cloud.google_api import google_errors

    with google_errors(f"reading gs://{target.bucket}/{name}"):
        blob = storage.Client(project=target.project, credentials=credentials) \
            .bucket(target.bucket).get_blob(name)
        return None if blob is None else json.loads(blob.download_as_bytes())


def read_cloud_baseline(target: CloudTarget, credentials=None) -> Baseline | None:
    """The model's data baseline, from ``gs://<bucket>/baselines/baseline.json``."""
    from pipelines.pipeline.baseline import BASELINE_FILE, Baseline

    found = _read_pointer(target, f"{BASELINE_PREFIX}{BASELINE_FILE}", credentials)
    return None if found is None else Baseline(**found)


def read_cloud_hyperparameters(target: CloudTarget,
                               credentials=None) -> TunedHyperparameters | None:
    """The model's last tuning result, from its bucket's ``hyperparameters/`` pointer."""
    from pipelines.pipeline.hyperparameters import POINTER_FILE, TunedHyperparameters

    found = _read_pointer(target, f"{HYPERPARAMETERS_PREFIX}{POINTER_FILE}", credentials)
    return None if found is None else TunedHyperparameters(**found)


def _vertex_pusher(target: CloudTarget, config: ModelConfig):
    def make(model, blessing, infra_blessing, evaluation, statistics):
        from pipelines.cloud.pusher import VertexPusher

        return VertexPusher(model=model, model_blessing=blessing, infra_blessing=infra_blessing,
                            evaluation=evaluation, statistics=statistics,
                            model_config=config.model_dump_json(),
                            target=json.dumps(asdict(target))).with_id("Pusher")
    return make


def build_vertex_pipeline(config: ModelConfig, target: CloudTarget,
                          baseline: Baseline | None = None,
                          hyperparameters: TunedHyperparameters | None = None,
                          tuning: bool = False):
    """The model's pipeline wired to BigQuery, Dataflow and Vertex AI; ``baseline``: the
    model's data baseline (read from its bucket by :func:`read_cloud_baseline`);
    ``hyperparameters``: its last tuning result (:func:`read_cloud_hyperparameters`);
    ``tuning``: the tuning pipeline instead, recording into the model's bucket."""
    from tfx.dsl.components.base import executor_spec
    from tfx.extensions.google_cloud_big_query.example_gen.component import BigQueryExampleGen

    from pipelines.cloud.bigquery_example_gen import Executor, temp_dataset_config
    from pipelines.data.splits import input_config, split_queries
    from pipelines.pipeline.factory import create_pipeline

    queries = split_queries(config.source, config.label_key, "bigquery",
                            project=target.project, dataset=target.dataset)
    if tuning:
        from pipelines.data.splits import tuning_split_queries

        queries = tuning_split_queries(config.source, config.label_key, "bigquery",
                                       config.tuning.folds,
                                       project=target.project, dataset=target.dataset)
        baseline = hyperparameters = None
    if not config.enable_pusher or target.endpoint is None:
        config = config.model_copy(update={"enable_pusher": False})
    return create_pipeline(
        config,
        # Query results go to a temp table in the model's dataset, not a new dataset.
        example_gen=BigQueryExampleGen(
            input_config=input_config(queries),
            custom_config=temp_dataset_config(target.bigquery_temp_dataset),
            custom_executor_spec=executor_spec.BeamExecutorSpec(Executor)),
        pipeline_root=target.pipeline_root,
        beam_pipeline_args=target.beam_pipeline_args,
        make_pusher=_vertex_pusher(target, config),
        baseline=baseline, baseline_root=target.baseline_root, hyperparameters=hyperparameters,
        tuning_root=target.hyperparameters_root if tuning else None,
        # pipeline_root ages out: the Evaluator compares with the recorded blessed model
        recorded_model_baseline=True)


def compile_pipeline(config: ModelConfig, target: CloudTarget, output: Path | None = None,
                     baseline: Baseline | None = None,
                     hyperparameters: TunedHyperparameters | None = None,
                     tuning: bool = False) -> dict[str, Any]:
    """The KFP v2 pipeline job JSON for Vertex AI; written to ``output`` if given
    (``tuning``: the tuning pipeline, see :func:`build_vertex_pipeline`)."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2

    pipeline = build_vertex_pipeline(config, target, baseline, hyperparameters, tuning)
    runner_config = v2.KubeflowV2DagRunnerConfig(default_image=target.image,
                                                 display_name=pipeline.pipeline_info.pipeline_name)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(output).parent if output else Path(tmp)
        name = Path(output).name if output else "pipeline.json"
        out_dir.mkdir(parents=True, exist_ok=True)
        v2.KubeflowV2DagRunner(config=runner_config, output_dir=str(out_dir),
                               output_filename=name).run(pipeline, write_out=True)
        return json.loads((out_dir / name).read_text())
