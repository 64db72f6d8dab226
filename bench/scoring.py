"""Batch scoring: ``fullcycle score taxi_tips`` on a million rows, beside the model's own floor.

In a fresh workspace: ``fullcycle run taxi_tips`` trains and pushes a model on the
15k sample rows (its data becomes the baseline), then ``taxi_trips`` is scaled to
1,000,000 rows as ``bench/data_scale.py`` scales it (the sample repeated, new trip
ids). Measured in this process, after the imports:

- the floor: the same rows' features, already as tensors, through the model's
  ``serving_default`` in batches of the scorer's size - nothing but the model;
- ``score``: the whole workflow - model load, the data check against the baseline,
  DuckDB's Arrow batches converted and predicted, the scores staged and appended;
- the same through the CLI in a new process (imports included), for reference.

Target: score 1M rows in at most 10 s. Usage: python bench/scoring.py [--rows N]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import fresh_workspace, fullcycle  # noqa: E402
from bench.data_scale import scale_taxi_trips  # noqa: E402

MODEL = "taxi_tips"
TRAIN_STEPS = "300"


def floor_seconds(warehouse: Path, version: Path, sql: str, batch_rows: int) -> float:
    """Seconds of ``serving_default`` alone on the rows of ``sql`` (tensors made beforehand)."""
    import duckdb

    from pipelines.serving.batch import feeds
    from pipelines.serving.model_store import LoadedModel

    model = LoadedModel(version)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        batches = [feeds(model, batch) for batch in
                   con.execute(sql).to_arrow_reader(batch_rows) if batch.num_rows]
    finally:
        con.close()
    model.predict_feeds(batches[0])  # warm, as the scorer's first batch is not
    started = time.perf_counter()
    for tensors in batches:
        model.predict_feeds(tensors)
    return time.perf_counter() - started


def main() -> None:
    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 1_000_000
    work, env = fresh_workspace("scoring")
    fullcycle(env, "run", MODEL, "--train-steps", TRAIN_STEPS, log=work / "run.log")
    scale_taxi_trips(Path(env["FULLCYCLE_WAREHOUSE"]), rows)
    os.environ.update({k: env[k] for k in ("FULLCYCLE_HOME", "FULLCYCLE_WAREHOUSE")})

    started = time.perf_counter()
    import pipelines  # noqa: F401 - pins Keras 2 first
    from pipelines.config import load_config
    from pipelines.data import warehouse
    from pipelines.data.scoring import rows_query
    from pipelines.data.splits import LOCAL_DATASET

    # the data check's libraries (TFDV, TFX) load before the clock starts, as TensorFlow does
    from pipelines.pipeline import statistics, validation  # noqa: F401
    from pipelines.settings import Workspace
    from pipelines.workflows.score import BATCH_ROWS, resolve_version, score

    workspace, config = Workspace.from_env(), load_config(MODEL)
    con = warehouse.connect(workspace.warehouse)
    sql, features = rows_query(config, con, LOCAL_DATASET)
    con.close()
    print(f"imports (TensorFlow, TFDV, TFX) seconds: {time.perf_counter() - started:.1f}")

    version = resolve_version(workspace, MODEL, None)
    floor = floor_seconds(workspace.warehouse, version,
                          f"SELECT {', '.join(features)} FROM ({sql})", BATCH_ROWS)
    summary = score(config, workspace)
    print(f"load average (2 cores, shared): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"rows scored {summary.rows:,}; data check on {summary.checked_rows:,} sampled rows: "
          f"{summary.findings_text()}")
    print(f"serving_default floor seconds: {floor:.2f} ({summary.rows / floor:,.0f} rows/s)")
    print(f"score 1M rows seconds: {summary.seconds:.2f} (target <= 10)")
    print(f"score rows per second: {summary.rows_per_second:,.0f}")
    print(f"score / floor ratio: {summary.seconds / floor:.2f}")
    cli = time.perf_counter()
    fullcycle(env, "score", MODEL, log=work / "score.log")
    print(f"fullcycle score CLI wall seconds (new process, imports included): "
          f"{time.perf_counter() - cli:.1f}")
    print(f"logs in {work}")


if __name__ == "__main__":
    main()
