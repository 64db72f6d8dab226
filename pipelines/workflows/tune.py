"""``fullcycle tune MODEL``: search training args on demand; every later run trains with the result.

Steps, locally:
  1. the source is checked as for a run; the train split is cut into ``folds``
     cross-validation folds by the same hash as the splits (the eval split is not read)
  2. ExampleGen .. Transform, as a run has them (Transform analyses every fold: together
     the run's train split; no data baseline: the splits differ)
  3. Tuner - the config's own values, then ``max_trials`` sets of values, each trained
     once per fold on the other folds and scored on it
  4. HyperparametersRecorder - the result (a trial better than the config's values in
     every fold, else the config's kept) under ``hyperparameters/<version>/``, then the
     pointer: the next ``fullcycle run`` imports it into its Trainer

In the cloud (``--cloud``) the same pipeline is compiled for Vertex AI Pipelines
(BigQuery, Dataflow; the Tuner a task in the runner image, trials one after the
other) and submitted; it records into ``gs://<bucket>/hyperparameters/``, which
cloud runs import as they import the data baseline.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import ModelConfig
from pipelines.settings import Workspace


@dataclass
class TuneSummary:
    """What a tuning did: per component seconds, the trials, the values runs now use."""

    model: str
    seconds: float
    error: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)  # node_id, seconds
    result: dict[str, Any] | None = None  # pipeline.hyperparameters.TunedHyperparameters
    new_result: bool = False  # False: the Tuner was cached, the recorded result stands
    log: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def seconds_per_trial(self) -> float | None:
        """Mean seconds of the trials that ran (None when none did)."""
        seconds = [t["seconds"] for t in (self.result or {}).get("trials", ())
                   if t.get("seconds") is not None]
        return sum(seconds) / len(seconds) if seconds else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_tuning(config: ModelConfig) -> None:
    """A clear error for a model whose config declares no search space."""
    if config.tuning is None:
        raise FullcycleError(
            f"model {config.name!r} has no tuning in its config.py; add e.g. "
            "tuning=Tuning(search_space={'learning_rate': LogUniform(1e-4, 1e-1)}, "
            "max_trials=6) (from pipelines.config import Tuning, LogUniform)")


def tuning_overrides(config: ModelConfig, **changes: Any) -> dict[str, Any]:
    """Run overrides changing the config's tuning (``max_trials=2``, ...); {} for none."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return {}
    require_tuning(config)
    return {"tuning": {**config.tuning.model_dump(mode="json"), **changes}}


def tuning_metadata_path(workspace: Workspace, model: str) -> Path:
    """Tuning's own ML Metadata store: a run's summary reads the latest run of its own."""
    return workspace.metadata_path(model).with_name("tuning.sqlite")


def build_local_tuning_pipeline(config: ModelConfig, workspace: Workspace,
                                source: tuple[list, str] | None = None,
                                enable_cache: bool = True,
                                overrides: dict[str, Any] | None = None):
    """The tuning pipeline wired to the local twins (``source``: a prior check_source;
    ``overrides``: applied to ``config`` already, passed on to Transform and Tuner)."""
    from tfx.orchestration import metadata

    from pipelines.data.example_gen import DuckDBExampleGen
    from pipelines.data.splits import tuning_split_queries
    from pipelines.pipeline.factory import create_pipeline
    from pipelines.pipeline.local import check_source, local_beam_args, source_rows

    require_tuning(config)
    _, data_fingerprint = source or check_source(config, workspace)
    queries = tuning_split_queries(config.source, config.label_key, "duckdb",
                                   config.tuning.folds)
    store = tuning_metadata_path(workspace, config.name)
    store.parent.mkdir(parents=True, exist_ok=True)
    return create_pipeline(
        config,
        example_gen=DuckDBExampleGen(queries, str(workspace.warehouse), data_fingerprint),
        pipeline_root=str(workspace.pipeline_root(config.name) / "tuning"),
        beam_pipeline_args=local_beam_args(source_rows(data_fingerprint)),
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(store)),
        enable_cache=enable_cache, overrides=overrides,
        tuning_root=str(workspace.hyperparameters_dir(config.name)))


def tune_local(config: ModelConfig, workspace: Workspace, *, use_cache: bool = True,
               overrides: dict[str, Any] | None = None,
               on_event: Callable[[str, str, float | None], None] | None = None) -> TuneSummary:
    """Runs the tuning pipeline with LocalDagRunner; returns a TuneSummary (also on failure).

    With ``use_cache`` an unchanged tuning (config, code, data) is TFX's cache hit:
    the Tuner does not run again and the recorded result stands. ``overrides``:
    already applied to ``config`` (e.g. ``tuning_overrides``), passed to the components.
    """
    from pipelines.pipeline.local import check_source

    require_tuning(config)
    started = time.monotonic()
    source = check_source(config, workspace)
    from pipelines.config.registry import check_model_code

    check_model_code(config.name)
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipelines.compat import patch_beam_first_worker_in_process, patch_beam_for_tft
    from pipelines.pipeline.hyperparameters import read_hyperparameters
    from pipelines.pipeline.quiet import ProgressHook, run_log

    patch_beam_for_tft()
    patch_beam_first_worker_in_process()
    root = str(workspace.hyperparameters_dir(config.name))
    before = read_hyperparameters(root)
    pipeline = build_local_tuning_pipeline(config, workspace, source, use_cache, overrides)
    hook = ProgressHook(on_event=on_event)
    log = workspace.home / "logs" / config.name / f"tune-{time.strftime('%Y%m%d-%H%M%S')}.log"
    error: BaseException | None = None
    argv, sys.argv = sys.argv, sys.argv[:1]  # TFX's Beam executors parse sys.argv as flags
    try:
        with hook, run_log(log):
            try:
                LocalDagRunner().run(pipeline)
            except Exception as err:  # the summary reports it; the pointer is unchanged
                error = err
                logging.getLogger("fullcycle").error("the tuning failed", exc_info=True)
    finally:
        sys.argv = argv
    after = read_hyperparameters(root)
    summary = TuneSummary(
        model=config.name, seconds=time.monotonic() - started,
        components=[{"node_id": t.node_id, "seconds": t.seconds}
                    for t in hook.timings.values()],
        result=after and after.as_dict(),
        new_result=after is not None and (before is None or before.version != after.version))
    if error is not None:
        failed = [t.node_id for t in hook.timings.values() if t.seconds is not None][-1:]
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        cause = lines[-1][:600] if lines else type(error).__name__
        summary.error = f"{failed[0] if failed else 'the tuning'} failed: {cause} (full log: {log})"
        summary.log = str(log)
    return summary


def tune_cloud(config: ModelConfig, stack: str, output: Path | None = None,
               submit: bool = True, credentials=None,
               idempotency_key: str | None = None) -> dict[str, Any]:
    """Compiles the tuning pipeline for Vertex AI and (``submit``) submits it.

    Submitted as the runner's ``POST /tunings`` submits it (``VertexBackend.submit`` with
    ``tuning_id_for``): the same PipelineJob id for the same ``idempotency_key`` (the
    runner's ``Idempotency-Key``), so a retried command, or the runner given that key,
    never starts a second tuning; the same labels. Returns {"spec": the KFP job JSON,
    "job_id", "link", "duplicate" (the job existed already), "hyperparameters_root"}
    (no job without ``submit``).
    """
    from pipelines.cloud.compile import compile_pipeline
    from pipelines.cloud.target import CloudTarget

    require_tuning(config)
    target = CloudTarget.from_stack(config.name, stack)
    answer: dict[str, Any] = {"job_id": None, "link": None, "duplicate": False,
                              "hyperparameters_root": target.hyperparameters_root}
    with tempfile.TemporaryDirectory() as tmp:
        path = output or Path(tmp) / "tuning-pipeline.json"
        answer["spec"] = compile_pipeline(config, target, path, tuning=True)
    if not submit:
        return answer
    from pipelines.runner.runs import tuning_id_for
    from pipelines.runner.vertex import VertexBackend

    tuning_id, trigger = tuning_id_for(config.name, idempotency_key)
    job, created = VertexBackend(stack, credentials).submit(config.name, tuning_id, trigger,
                                                            tuning=True)
    answer.update(job_id=job.run_id, link=job.link, duplicate=not created)
    return answer
