"""Runs a model's pipeline on this machine: DuckDB warehouse, DirectRunner, SQLite MLMD.

The code above the twins is the production path: the same factory, the same
split SQL, the same components; only ExampleGen's source, the Beam runner and
the metadata store differ.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from pipelines.config.errors import FullcycleError, did_you_mean
from pipelines.config.model_config import ModelConfig
from pipelines.config.slices import check_slice_values, counts_values
from pipelines.data import warehouse
from pipelines.data.splits import LOCAL_DATASET, source_sql, split_queries
from pipelines.pipeline.fingerprint import run_key
from pipelines.pipeline.summary import RunSummary
from pipelines.settings import Workspace
from pipelines.stack.config import default_stack

# Beam's DirectRunner in memory, in this process: on small data, worker processes (each
# imports TensorFlow, seconds per Beam pipeline) cost more than they save. From
# PARALLEL_ROWS source rows it runs one worker per core (ExampleGen's shards are what
# the workers share): the first in this process, the others in worker processes
# (pipelines/compat.py, 4.). Naming the SDK image (the runner image, as on Dataflow)
# tells TFX the Beam dependencies are provided: no TFX sdist built for every component.
PARALLEL_ROWS = 250_000


def beam_workers(rows: int) -> int:
    """Beam workers for a source of ``rows`` rows (``FULLCYCLE_BEAM_WORKERS`` sets the
    count: 1 keeps everything in this process; N runs one worker in this process and
    N-1 worker processes)."""
    value = os.environ.get("FULLCYCLE_BEAM_WORKERS")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise FullcycleError(f"FULLCYCLE_BEAM_WORKERS={value!r}: give a whole number of "
                                 "worker processes, 1 or more (1: in this process)")
        return int(value)
    return (os.cpu_count() or 1) if rows >= PARALLEL_ROWS else 1


def local_beam_args(rows: int) -> list[str]:
    """The DirectRunner's mode for a source of ``rows`` rows."""
    workers = beam_workers(rows)
    mode = "multi_processing" if workers > 1 else "in_memory"
    return [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}",
            "--sdk_container_image=fullcycle-runner:local"]


def source_rows(data_fingerprint: str) -> int:
    """The row count in a ``warehouse.fingerprint`` (``"<rows>:<digest>"``)."""
    return int(data_fingerprint.split(":", 1)[0])


def check_source(config: ModelConfig, workspace: Workspace) -> tuple[list, str]:
    """Split queries and a data fingerprint; fails clearly if the source is unusable."""
    con = warehouse.connect(workspace.warehouse)
    try:
        source = source_sql(config.source, LOCAL_DATASET)
        try:
            found = warehouse.columns(con, source)
        except duckdb.Error as err:
            raise FullcycleError(f"model {config.name!r}: source query failed on the local "
                                 f"warehouse {workspace.warehouse}: {err}") from None
        needed = (*config.raw_feature_keys, config.label_key, *config.source.split_key,
                  *config.slice_columns)
        missing = [c for c in dict.fromkeys(needed) if c not in found]
        if missing:
            hints = "; ".join(f"{c!r}{did_you_mean(c, found)}" for c in missing)
            raise FullcycleError(f"model {config.name!r}: the source has no column {hints}; "
                                 f"its columns: {', '.join(found)}")
        for column in config.slice_columns:  # few values, or it is refused
            if counts_values(found[column]):
                check_slice_values(config, column, found[column],
                                   warehouse.distinct_count(con, source, column))
        queries = split_queries(config.source, config.label_key, "duckdb")
        return queries, warehouse.fingerprint(con, source)
    finally:
        con.close()


def build_local_pipeline(config: ModelConfig, workspace: Workspace,
                         overrides: dict[str, Any] | None = None,
                         source: tuple[list, str] | None = None, hyperparameters=None):
    """The model's pipeline wired to the local twins (``source``: a prior check_source;
    ``hyperparameters``: the tuning result to train with, from ``read_hyperparameters``)."""
    from tfx.orchestration import metadata

    from pipelines.data.example_gen import DuckDBExampleGen
    from pipelines.pipeline.baseline import read_baseline
    from pipelines.pipeline.factory import create_pipeline

    queries, data_fingerprint = source or check_source(config, workspace)
    workspace.metadata_path(config.name).parent.mkdir(parents=True, exist_ok=True)
    baseline_root = str(workspace.baseline_dir(config.name))
    return create_pipeline(
        config,
        example_gen=DuckDBExampleGen(queries, str(workspace.warehouse), data_fingerprint),
        pipeline_root=str(workspace.pipeline_root(config.name)),
        serving_model_dir=str(workspace.serving_model_dir(config.name)),
        beam_pipeline_args=local_beam_args(source_rows(data_fingerprint)),
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(workspace.metadata_path(config.name))),
        overrides=overrides, baseline=read_baseline(baseline_root), baseline_root=baseline_root,
        hyperparameters=hyperparameters)


def failure_line(summary: RunSummary, error: BaseException, log: Path) -> str:
    """One line: the component that failed, the cause, and where the full trace is."""
    failed = [c.node_id for c in summary.components if c.state == "FAILED"]
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    cause = lines[-1] if lines else type(error).__name__
    if len(cause) > 600:
        cause = cause[:600] + " ..."
    where = f"{failed[0]} failed" if failed else "the pipeline failed"
    return f"{where}: {cause} (full log: {log})"


def _run_cache_file(workspace: Workspace, model: str) -> Path:
    return workspace.home / "runs" / model / "last_run.json"


def cached_run(workspace: Workspace, config: ModelConfig, key: str) -> RunSummary | None:
    """The last run's summary if it had the same key and what it produced still exists."""
    path = _run_cache_file(workspace, config.name)
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    if stored.get("key") != key or not workspace.metadata_path(config.name).exists():
        return None
    summary = RunSummary.from_dict(stored["summary"])
    if summary.pushed_path and not Path(summary.pushed_path).exists():
        return None
    summary.cache = "run"
    for component in summary.components:
        component.state, component.seconds = "CACHED", None
    return summary


def _store_run(workspace: Workspace, config: ModelConfig, key: str, summary: RunSummary) -> None:
    path = _run_cache_file(workspace, config.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "summary": summary.as_dict()}, default=str))
    tmp.replace(path)


def serving_process(config: ModelConfig, rows: int):
    """The InfraValidator's serving process, started now so its imports overlap the run.

    Not with Beam worker processes (large data): there its 2 s start is nothing, and
    the half gigabyte it would hold through the run is better left to the workers.
    """
    if not config.infra_validation.enabled or beam_workers(rows) > 1:
        return contextlib.nullcontext()
    from pipelines.serving.infra_check import prestarted

    return prestarted()


def infra_check_ahead(pipeline) -> Callable[[str, Any], None]:
    """An ``on_launched`` hook: the InfraValidator's check starts as soon as its inputs exist.

    Once the examples and the Trainer's model are written, the prestarted serving
    process (small data) is sent the InfraValidator's own job (its model, requests
    and latency budget), so loading and querying overlap the Evaluator; the
    InfraValidator collects that answer (``infra_check.validate``). Nothing changes
    without a waiting process, and a job that differs is checked anew.
    """
    from pipelines.pipeline.infra_validator import InfraValidator  # with the pipeline's own

    node = next((c for c in pipeline.components if isinstance(c, InfraValidator)), None)
    producers = {} if node is None else {
        (channel.producer_component_id, channel.output_key): name
        for name, channel in node.inputs.items()}
    uris: dict[str, str] = {}

    def on_launched(node_id: str, info: Any) -> None:
        from pipelines.serving import infra_check

        for (producer, key), name in producers.items():
            if node_id == producer and info is not None and info.output_dict.get(key):
                uris[name] = info.output_dict[key][0].uri
        if not {"model", "examples"} <= uris.keys() or not infra_check.has_waiting():
            return
        from tfx.utils import path_utils

        from pipelines.pipeline.infra_validator import example_requests

        job = node.exec_properties
        model_uri = uris.pop("model")  # once per model
        try:
            requests = example_requests(uris["examples"], job["split"], job["label_key"],
                                        job["requests"], job["batch_size"])
            infra_check.check_ahead(path_utils.serving_model_dir(model_uri), requests,
                                    job["max_latency_ms"])
        except Exception:  # an optional head start: the InfraValidator checks, and reports
            logging.getLogger("fullcycle").info("no infra check ahead", exc_info=True)

    return on_launched


def run_local(config: ModelConfig, workspace: Workspace, *,
              overrides: dict[str, Any] | None = None, verbose: bool = False,
              use_run_cache: bool = True, deploy: bool = True, stack: str | None = None,
              on_event: Callable[[str, str, float | None], None] | None = None) -> RunSummary:
    """Runs the pipeline with LocalDagRunner and returns a RunSummary (also on failure).

    When config, overrides, split SQL, source rows and pipeline code are all
    unchanged since the last successful run, that run is the answer: nothing is
    imported, re-evaluated or pushed again (``use_run_cache=False`` runs TFX,
    whose per-component cache still applies).

    A freshly pushed version is deployed to the model's local endpoint, as the
    Vertex Pusher does in the cloud: 100 % on an empty endpoint, else the first
    canary step of ``stack`` (``FULLCYCLE_STACK``, default ``dev``), read before
    the run so that a bad stack config fails first. ``deploy=False`` only pushes.
    """
    started, started_at = time.monotonic(), time.time()
    first_weight = None
    if deploy:
        from pipelines.serving.rollout import canary_settings

        first_weight = canary_settings(config.name, stack or default_stack()).steps[0]
    queries, data_fingerprint = check_source(config, workspace)
    from pipelines.pipeline.hyperparameters import read_hyperparameters

    tuned = read_hyperparameters(str(workspace.hyperparameters_dir(config.name)))
    key = run_key(config, overrides, [q.sql for q in queries], data_fingerprint,
                  tuned and tuned.version)
    if use_run_cache and (summary := cached_run(workspace, config, key)):
        summary.seconds = time.monotonic() - started
        return summary

    from pipelines.config.registry import check_model_code

    check_model_code(config.name)  # a broken preprocessing.py/model.py fails here, clearly
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipelines.compat import patch_beam_first_worker_in_process, patch_beam_for_tft
    from pipelines.pipeline.quiet import ProgressHook, run_log
    from pipelines.pipeline.summary import summarize

    patch_beam_for_tft()
    patch_beam_first_worker_in_process()
    pipeline = build_local_pipeline(config, workspace, overrides, (queries, data_fingerprint),
                                    tuned)
    hook = ProgressHook(on_event=on_event, on_launched=infra_check_ahead(pipeline))
    error: BaseException | None = None
    log = workspace.home / "logs" / config.name / f"{time.strftime('%Y%m%d-%H%M%S')}.log"
    argv, sys.argv = sys.argv, sys.argv[:1]  # TFX's Beam executors parse sys.argv as flags
    try:
        with hook, run_log(log), serving_process(config, source_rows(data_fingerprint)):
            try:
                LocalDagRunner().run(pipeline)
            except Exception as err:  # the summary reports it; nothing half-pushed remains
                error = err
                logging.getLogger("fullcycle").error("the run failed", exc_info=True)
    finally:
        sys.argv = argv
    summary = summarize(config, workspace, pipeline, hook.timings,
                        time.monotonic() - started, error)
    summary.started_at = started_at
    summary.hyperparameters = tuned and tuned.as_dict()
    if error is not None:
        summary.error, summary.log = failure_line(summary, error, log), str(log)
    if first_weight is not None and summary.pushed_path and "Pusher" not in summary.cached:
        from pipelines.serving.rollout import deploy_pushed

        summary.deployment = deploy_pushed(workspace, config.name, summary.pushed_path,
                                           first_weight)
    if summary.run_id:
        _report(workspace, config, summary)
    if summary.succeeded:
        _store_run(workspace, config, key, summary)
    return summary


def _report(workspace: Workspace, config: ModelConfig, summary: RunSummary) -> None:
    """Writes the run's report page and model card, and records the run for ``runs``."""
    from pipelines.report.pages import write_report
    from pipelines.report.runs import RunRecord, record_run

    try:
        summary.report = str(write_report(
            workspace, RunRecord(summary, config.model_dump(mode="json"))))
    except Exception:  # a report that cannot be written never costs the run
        logging.getLogger("fullcycle").warning("the run report was not written", exc_info=True)
    record_run(workspace, config, summary)
