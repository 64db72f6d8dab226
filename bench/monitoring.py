"""How long ``fullcycle monitor`` takes on a 100k-request log.

basic_template is trained and deployed in a fresh workspace; its endpoint's
request log then gets 200k requests of one eval-split instance each, 100k in the
last hour and 100k in the hour before (written straight into the log, as the
endpoint writes them). Timed: ``fullcycle monitor basic_template --window 1h``
in a new process (imports included), and the check alone in a warm process,
medians of 3, at sample rate 1.0 (every request analysed).
Target: the command takes at most 20 s.
Usage: python bench/monitoring.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root
from bench._workspace import fresh_workspace, fullcycle  # noqa: E402

REQUESTS = 100_000
TARGET = 20.0


def fill_log(workspace, model: str) -> str:
    """Two hours of requests (``REQUESTS`` an hour) from eval rows, for the deployed model."""
    import orjson
    import pandas as pd

    from pipelines.config.registry import load_config
    from pipelines.data import warehouse
    from pipelines.data.splits import split_queries
    from pipelines.serving.endpoint import EndpointState, RequestLog

    config = load_config(model)
    sql = next(q.sql for q in split_queries(config.source, config.label_key, "duckdb")
               if q.name == "eval")
    con = warehouse.connect(workspace.warehouse, read_only=True)
    rows = con.execute(sql).df()[list(config.raw_feature_keys)].to_dict("records")
    con.close()
    root = workspace.endpoint_dir(model)
    (deployed_id,) = EndpointState.load(root / "endpoint.json").deployed
    now = time.time()
    frame = pd.DataFrame({
        "request_id": [f"r{i:07d}" for i in range(2 * REQUESTS)],
        "ts": [now - 2 * 3600 + i * 7200 / (2 * REQUESTS) for i in range(2 * REQUESTS)],
        "deployed_model_id": deployed_id,
        "instances": [orjson.dumps([rows[i % len(rows)]]).decode()
                      for i in range(2 * REQUESTS)],
        "predictions": "[[0.0]]", "latency_ms": 1.0, "error": None})
    frame["error"] = frame["error"].astype(object)
    RequestLog(root / "requests.duckdb", retention_days=None).close()  # creates the tables
    import duckdb

    db = duckdb.connect(str(root / "requests.duckdb"))
    db.register("frame", frame)
    db.execute("INSERT INTO requests SELECT * FROM frame")
    db.close()
    return deployed_id


def main() -> None:
    work, env = fresh_workspace("monitoring")
    os.environ.update(env)
    fullcycle(env, "run", "basic_template", log=work / "run.log")
    from pipelines.settings import Workspace

    workspace = Workspace.from_env()
    fill_log(workspace, "basic_template")
    print(f"request log: {2 * REQUESTS} requests over 2 h in {work}", flush=True)
    command = []
    for _ in range(3):
        started = time.monotonic()
        done = fullcycle(env, "monitor", "basic_template", "--window", "1h", check=False,
                         log=work / "monitor.log")
        command.append(time.monotonic() - started)
        assert done.returncode in (0, 3), (work / "monitor.log").read_text()[-2000:]
    from pipelines.config.registry import load_config
    from pipelines.serving.monitoring import check_endpoint
    from pipelines.stack.config import MonitoringSettings

    settings = MonitoringSettings(sample_rate=1.0)
    config = load_config("basic_template")
    check_endpoint(workspace, config, settings, 3600)  # warm-up
    warm = []
    for _ in range(3):
        started = time.monotonic()
        result = check_endpoint(workspace, config, settings, 3600)
        warm.append(time.monotonic() - started)
    (window,) = result.models
    cold, in_process = statistics.median(command), statistics.median(warm)
    print(f"window: {window.requests} requests, skew {window.skew}, drift {window.drift}, "
          f"status {result.status}")
    print(f"check in-process median {in_process:.2f} s (sample rate 1.0)")
    print(f"monitor 100k requests seconds: {cold:.2f} (target <= {TARGET})", flush=True)
    os._exit(0)  # skip TensorFlow's noisy teardown


if __name__ == "__main__":
    main()
