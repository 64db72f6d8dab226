"""Runs a model's pipeline on this machine: DuckDB warehouse, DirectRunner, SQLite MLMD.

The code above the twins is the production path: the same factory, the same
split SQL, the same components; only ExampleGen's source, the Beam runner and
the metadata store differ.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import duckdb

from pipelines.config.errors import FullcycleError, did_you_mean
from pipelines.config.model_config import ModelConfig
from pipelines.data import warehouse
from pipelines.data.splits import source_sql, split_queries, LOCAL_DATASET
from pipelines.settings import Workspace

# In-memory DirectRunner: on small data, worker processes cost more than they save.
# Naming the SDK image (the runner image, as on Dataflow) tells TFX the Beam
# dependencies are provided, so it does not build a TFX sdist for every component.
LOCAL_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1",
                   "--sdk_container_image=fullcycle-runner:local"]


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
        needed = (*config.raw_feature_keys, config.label_key, *config.source.split_key)
        missing = [c for c in dict.fromkeys(needed) if c not in found]
        if missing:
            hints = "; ".join(f"{c!r}{did_you_mean(c, found)}" for c in missing)
            raise FullcycleError(f"model {config.name!r}: the source has no column {hints}; "
                                 f"its columns: {', '.join(found)}")
        queries = split_queries(config.source, config.label_key, "duckdb")
        return queries, warehouse.fingerprint(con, source)
    finally:
        con.close()


def build_local_pipeline(config: ModelConfig, workspace: Workspace,
                         overrides: dict[str, Any] | None = None):
    """The model's pipeline wired to the local twins."""
    from tfx.orchestration import metadata

    from pipelines.data.example_gen import DuckDBExampleGen
    from pipelines.pipeline.factory import create_pipeline

    queries, data_fingerprint = check_source(config, workspace)
    workspace.metadata_path(config.name).parent.mkdir(parents=True, exist_ok=True)
    return create_pipeline(
        config,
        example_gen=DuckDBExampleGen(queries, str(workspace.warehouse), data_fingerprint),
        pipeline_root=str(workspace.pipeline_root(config.name)),
        serving_model_dir=str(workspace.serving_model_dir(config.name)),
        beam_pipeline_args=LOCAL_BEAM_ARGS,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(workspace.metadata_path(config.name))),
        overrides=overrides)


def run_local(config: ModelConfig, workspace: Workspace, *, overrides: dict[str, Any] | None = None,
              verbose: bool = False,
              on_event: Callable[[str, str, float | None], None] | None = None):
    """Runs the pipeline with LocalDagRunner and returns a RunSummary (also on failure)."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipelines.compat import patch_beam_for_tft
    from pipelines.pipeline.quiet import ProgressHook
    from pipelines.pipeline.summary import summarize

    patch_beam_for_tft()

    pipeline = build_local_pipeline(config, workspace, overrides)
    hook = ProgressHook(on_event=on_event)
    started = time.monotonic()
    error: BaseException | None = None
    argv, sys.argv = sys.argv, sys.argv[:1]  # TFX's Beam executors parse sys.argv as flags
    try:
        with hook:
            LocalDagRunner().run(pipeline)
    except Exception as err:  # the summary reports it; nothing half-pushed remains
        error = err
    finally:
        sys.argv = argv
    return summarize(config, workspace, pipeline, hook.timings,
                     time.monotonic() - started, error)
