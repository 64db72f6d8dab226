"""``fullcycle score``: a table scored in bulk by the served model, checked first, appended after.

Steps, in order:
  1. Version - the served (latest pushed) version, as ``fullcycle predict`` uses, or one named.
  2. Rows    - ``batch_prediction``'s table or query (default: the training source, without
               the label), its keys and copied columns, narrowed by ``--where``/``--limit``.
  3. Check   - the rows' statistics (all of them, or a sample of ``CHECK_ROWS``) against the
               model's data baseline, with the DataValidator's own checks and thresholds
               (``pipelines.pipeline.validation.compare``, the config's ``data_validation``).
               The row-count check is left out: a score has as many rows as asked for. A
               blocking finding stops here and nothing is written.
  4. Score   - DuckDB's Arrow batches straight into ``serving_default`` (``serving.batch``),
               the next batch read and converted in a thread while this one is predicted
               (the model itself loads while step 3 runs).
  5. Append  - the scores, staged in a Parquet file, appended in one statement (all rows or
               none), one ``score_id`` per call; the warehouse is opened for writing only then.
  6. Record  - the summary, for ``fullcycle runs`` and the report.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipelines.config.errors import FullcycleError, unknown
from pipelines.config.model_config import ModelConfig
from pipelines.pipeline.score_check import (  # noqa: F401 (score_columns: part of its API)
    CHECK_ROWS,
    ScoreBlockedError,
    check_batches,
    score_columns,
)
from pipelines.report.scores import ScoreSummary, record_score
from pipelines.settings import Workspace

BATCH_ROWS = 65_536

Progress = Callable[[int, int], None]


def resolve_version(workspace: Workspace, model: str, version: str | None) -> Path:
    """The pushed version to score with: ``version``, or the served (latest) one."""
    from pipelines.serving.model_store import pushed_versions, served_version

    folder = workspace.serving_model_dir(model)
    if version is None:
        return served_version(folder, model)
    versions = pushed_versions(folder)
    for path in versions:
        if path.name == version:
            return path
    raise FullcycleError(unknown(f"pushed version of model {model!r}", version,
                                 [p.name for p in versions]))


def check_rows(config: ModelConfig, workspace: Workspace, con, sql: str,
               features: list[str], summary: ScoreSummary) -> None:
    """The data check: fills ``summary``'s findings, checked rows and baseline."""
    from pipelines.pipeline.baseline import read_baseline

    baseline = read_baseline(str(workspace.baseline_dir(config.name)))
    if baseline is None:
        return
    read = ", ".join(f'"{c}"' for c in (features or config.score_keys))
    sample = (f"SELECT {read} FROM ({sql}) AS scored "
              f"USING SAMPLE reservoir({CHECK_ROWS} ROWS) REPEATABLE ({config.seed})")
    check_batches(config, baseline, con.execute(sample).to_arrow_reader(BATCH_ROWS), summary)


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items`` produced in a thread, ``depth`` ahead: DuckDB's reading and the conversion
    of the next batch run while TensorFlow predicts this one (both leave the GIL)."""
    import queue
    import threading

    ready: queue.Queue = queue.Queue(depth)
    stop, done = threading.Event(), object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((done, None))
        except BaseException as err:  # handed to the consumer, raised there
            ready.put((done, err))

    thread = threading.Thread(target=produce, daemon=True, name="score-reader")
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _score_rows(config: ModelConfig, model, con, sql: str, staged: Path,
                summary: ScoreSummary, total: int | None, progress: Progress | None) -> None:
    """Streams the rows through the model into the Parquet file ``staged``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.serving.batch import feeds, prediction_columns

    copied = [*config.score_keys, *config.batch_prediction.columns]
    scored_at = pa.scalar(dt.datetime.fromtimestamp(summary.started_at, dt.timezone.utc),
                          pa.timestamp("us", tz="UTC"))

    def batches() -> Iterator:
        first = 0
        for batch in con.execute(sql).to_arrow_reader(BATCH_ROWS):
            if batch.num_rows:
                yield batch, feeds(model, batch, first)
                first += batch.num_rows

    writer = None
    try:
        for batch, tensors in _prefetched(batches()):
            n = batch.num_rows
            predicted = prediction_columns(config.task, model.predict_feeds(tensors))
            rows = pa.table({**{name: batch.column(name) for name in copied}, **predicted,
                             "model_version": pa.repeat(pa.scalar(summary.version), n),
                             "scored_at": pa.repeat(scored_at, n),
                             "score_id": pa.repeat(pa.scalar(summary.score_id), n)})
            if writer is None:
                writer = pq.ParquetWriter(str(staged), rows.schema, compression="NONE")
            writer.write_table(rows)
            summary.rows += n
            if progress is not None:
                progress(summary.rows, total or summary.rows)
    finally:
        if writer is not None:
            writer.close()


def _warehouse(workspace: Workspace, read_only: bool):
    import duckdb

    from pipelines.data import warehouse

    try:
        return warehouse.connect(workspace.warehouse, read_only=read_only)
    except duckdb.IOException as err:
        raise FullcycleError(f"the warehouse {workspace.warehouse} cannot be opened"
                             f"{'' if read_only else ' for writing'} (another process holds "
                             f"it?): {err}") from None


def _failed(workspace: Workspace, summary: ScoreSummary, error: FullcycleError,
            started: float) -> None:
    """Records a score that wrote nothing, then raises its error."""
    summary.status, summary.error, summary.rows = "failed", str(error), 0
    summary.seconds = time.monotonic() - started
    record_score(workspace, summary)
    raise error


def score(config: ModelConfig, workspace: Workspace, *, version: str | None = None,
          where: str | None = None, limit: int | None = None,
          progress: Progress | None = None) -> ScoreSummary:
    """Scores the model's rows with a pushed version; appends to its destination table.

    Raises ScoreBlockedError (nothing written) when the data check blocks, a FullcycleError
    naming the feature when the model cannot take the rows (nothing written either).
    """
    from pipelines.data.scoring import append, check_destination, rows_query
    from pipelines.data.splits import LOCAL_DATASET
    from pipelines.serving.model_store import LoadedModel

    if limit is not None and limit < 1:
        raise FullcycleError(f"--limit {limit} must be 1 or more")
    started, started_at = time.monotonic(), time.time()
    path = resolve_version(workspace, config.name, version)
    score_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started_at))}-{uuid.uuid4().hex[:8]}"
    summary = ScoreSummary(score_id, config.name, path.name, config.score_destination,
                           started_at, where=where, limit=limit)
    staged = workspace.home / "scores" / config.name / f"{score_id}.parquet"
    staged.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _warehouse(workspace, read_only=True)
        try:
            sql, features = rows_query(config, con, LOCAL_DATASET, where, limit)
            check_destination(con, summary.destination, score_columns(config))
            with ThreadPoolExecutor(1) as pool:  # the model loads while the data is checked
                loading = pool.submit(LoadedModel, path)
                check_rows(config, workspace, con, sql, features, summary)
                model = loading.result()
            if summary.blocking:
                summary.status, summary.seconds = "blocked", time.monotonic() - started
                record_score(workspace, summary)
                raise ScoreBlockedError(summary)
            total = con.execute(f"SELECT count(*) FROM ({sql}) AS scored").fetchone()[0] \
                if progress is not None else None
            try:
                _score_rows(config, model, con, sql, staged, summary, total, progress)
            except FullcycleError as err:
                _failed(workspace, summary, err, started)
        finally:
            con.close()
        if summary.rows:
            try:
                con = _warehouse(workspace, read_only=False)
                try:
                    append(con, summary.destination, str(staged))
                finally:
                    con.close()
            except FullcycleError as err:
                _failed(workspace, summary, err, started)
    finally:
        staged.unlink(missing_ok=True)
    summary.status, summary.seconds = "scored", time.monotonic() - started
    record_score(workspace, summary)
    return summary
