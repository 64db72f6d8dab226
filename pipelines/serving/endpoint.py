"""The local twin of a Vertex AI endpoint: deployed model versions, a traffic split, a request log.

It answers the parts of the Vertex AI endpoint REST API a canary needs, under
``/v1/projects/{p}/locations/{l}/endpoints/{e}``:

  POST  :predict        {"instances": [...]}
  POST  :deployModel    {"deployedModel": {"model": ...}, "trafficSplit": {"0": 10, "<id>": 90}}
  POST  :undeployModel  {"deployedModelId": ..., "trafficSplit": {...}}
  PATCH (the endpoint)  {"trafficSplit": {...}}
  GET   (the endpoint)
  GET   :metrics        ?deployedModelId=&since=&until= (the twin of querying the
                        BigQuery request-response log; not a Vertex method)

As on Vertex, a traffic split maps deployed model ids to integers summing to
100, "0" names the model being deployed, and a model still taking traffic
cannot be undeployed. Every prediction is logged, with its deployed model id
and latency, to DuckDB (the twin of request-response logging to BigQuery).
"""

from __future__ import annotations

import atexit
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from pipelines.canary.endpoint import EndpointError, WindowMetrics, first_number
from pipelines.config.errors import FullcycleError
from pipelines.serving.stats import has_nan, percentile


def _without_nan(value):
    if isinstance(value, list):
        return [_without_nan(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def check_split(split: dict[str, int], deployed: set[str]) -> dict[str, int]:
    """A valid traffic split: known ids, integers 0..100 summing to 100."""
    unknown = sorted(set(split) - deployed)
    if unknown:
        raise EndpointError(f"traffic split names undeployed model(s) {unknown}; deployed: "
                            f"{sorted(deployed)}")
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100
           for v in split.values()):
        raise EndpointError(f"traffic split {split} must map ids to integers 0..100")
    if deployed and sum(split.values()) != 100:
        raise EndpointError(f"traffic split {split} sums to {sum(split.values())}, not 100")
    return {k: v for k, v in split.items() if v}


@dataclass
class EndpointState:
    """Deployed models and the split, persisted so a restarted server keeps serving."""

    deployed: dict[str, str] = field(default_factory=dict)  # id -> SavedModel path
    traffic_split: dict[str, int] = field(default_factory=dict)
    # every id ever deployed -> its path: what served a logged request (monitoring)
    served: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> EndpointState:
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def add(self, model_path: str, split: dict[str, int]) -> str:
        """Adds a deployed model; ``split`` names it "0", as Vertex does. Returns its id."""
        deployed_id = str(int(time.time() * 1000) % 10**12 + len(self.deployed))
        split = {deployed_id if k == "0" else k: v for k, v in split.items()}
        self.traffic_split = check_split(split, set(self.deployed) | {deployed_id})
        self.deployed[deployed_id] = model_path
        self.served[deployed_id] = model_path
        return deployed_id

    def model_of(self, deployed_id: str) -> str | None:
        """The SavedModel path a deployed model id served, deployed now or before."""
        return self.served.get(deployed_id) or self.deployed.get(deployed_id)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"deployed": self.deployed,
                                   "traffic_split": self.traffic_split,
                                   "served": self.served}))
        tmp.replace(path)


class RequestLog:
    """Predictions and feedback in DuckDB.

    As on Vertex AI, logging is off the request path: ``record`` queues the row
    and a writer thread inserts the queue in one statement every
    ``flush_seconds``. Reads (``query``, ``feedback``) flush first, so they see
    every request answered before them; ``close`` flushes what is left.
    Requests older than ``retention_days`` (None: kept forever) are dropped
    when the log opens and hourly while it runs.
    """

    COLUMNS = ("request_id", "ts", "deployed_model_id", "instances", "predictions",
               "latency_ms", "error")

    PRUNE_SECONDS = 3600  # how often a running log drops requests past retention

    def __init__(self, path: Path, flush_seconds: float = 0.2,
                 retention_days: float | None = 30):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the DuckDB connection
        self._queue_lock = threading.Lock()
        self._queue: list[tuple] = []
        self._db = duckdb.connect(str(path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS requests (request_id VARCHAR PRIMARY KEY, ts DOUBLE, "
            "deployed_model_id VARCHAR, instances VARCHAR, predictions VARCHAR, "
            "latency_ms DOUBLE, error VARCHAR)")
        self._db.execute("CREATE TABLE IF NOT EXISTS feedback (request_id VARCHAR, ts DOUBLE, "
                         "labels VARCHAR)")
        self._stop = threading.Event()
        self._closed = False
        self._flush_seconds = flush_seconds
        self.retention_days = retention_days
        self.prune()
        self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                        name="request-log")
        self._writer.start()
        atexit.register(self.close)  # DuckDB must not be torn down under a running writer

    def record(self, deployed_model_id: str, instances, predictions, latency_ms: float,
               error: str | None) -> str:
        request_id = uuid.uuid4().hex
        row = (request_id, time.time(), deployed_model_id, instances, predictions, latency_ms,
               error)
        with self._queue_lock:
            self._queue.append(row)
        return request_id

    def _write_loop(self) -> None:
        pruned = time.monotonic()
        while not self._stop.wait(self._flush_seconds):
            self.flush()
            if time.monotonic() - pruned > self.PRUNE_SECONDS:
                self.prune()
                pruned = time.monotonic()

    def prune(self, now: float | None = None) -> int:
        """Drops requests (and their feedback) older than ``retention_days``; how many."""
        if self.retention_days is None:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention_days * 86400
        with self._lock:
            if self._closed:
                return 0
            self._db.execute("DELETE FROM feedback WHERE request_id IN "
                             "(SELECT request_id FROM requests WHERE ts < ?)", [cutoff])
            (dropped,) = self._db.execute("DELETE FROM requests WHERE ts < ?",
                                          [cutoff]).fetchone()
        return dropped

    def flush(self) -> None:
        """Writes every queued request to DuckDB."""
        import pandas as pd

        with self._lock:  # one flush at a time, in queue order
            if self._closed:
                return
            with self._queue_lock:
                rows, self._queue = self._queue, []
            if not rows:
                return
            dumps = orjson.dumps
            frame = pd.DataFrame(
                [(r[0], r[1], r[2], dumps(r[3]).decode(), dumps(r[4]).decode(), r[5], r[6])
                 for r in rows], columns=list(self.COLUMNS))
            frame["error"] = frame["error"].astype(object)
            self._db.register("queued_requests", frame)
            try:
                self._db.execute("INSERT INTO requests SELECT * FROM queued_requests")
            finally:
                self._db.unregister("queued_requests")

    def feedback(self, request_id: str, labels: list) -> None:
        self.flush()
        with self._lock:
            if not self._db.execute("SELECT 1 FROM requests WHERE request_id = ?",
                                    [request_id]).fetchone():
                raise EndpointError(f"unknown request {request_id!r}", 404)
            self._db.execute("INSERT INTO feedback VALUES (?, ?, ?)",
                             [request_id, time.time(), json.dumps(labels)])

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        self.flush()
        with self._lock:
            return self._db.execute(sql, params or []).fetchall()

    def close(self) -> None:
        """Writes what is queued and closes the database; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._stop.set()
        if threading.current_thread() is not self._writer:
            self._writer.join()
        self.flush()
        with self._lock:
            self._closed = True
            self._db.close()
        atexit.unregister(self.close)


class LocalEndpoint:
    """Routes predictions by the traffic split across loaded model versions."""

    def __init__(self, root: Path, seed: int | None = None,
                 log_retention_days: float | None = 30):
        self.root = root
        self._state_path = root / "endpoint.json"
        self.state = EndpointState.load(self._state_path)
        self.log = RequestLog(root / "requests.duckdb", retention_days=log_retention_days)
        self._models: dict = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        for deployed_id, path in self.state.deployed.items():
            self._models[deployed_id] = self._load(path)

    @staticmethod
    def _load(path: str):
        from pipelines.serving.model_store import LoadedModel

        if not Path(path).is_dir():
            raise EndpointError(f"model {path} does not exist", 404)
        model = LoadedModel(Path(path))
        try:  # before it takes traffic: a cold first call is not the model's latency
            model.warm_up()
        except Exception as err:
            raise EndpointError(f"model {path} failed its warm-up prediction: "
                                f"{type(err).__name__}: {err}") from None
        return model

    def close(self) -> None:
        self.log.close()

    def window_metrics(self, deployed_id: str, since: float, until: float) -> WindowMetrics:
        """Metrics of one deployed model over the requests logged in [since, until)."""
        rows = self.log.query(
            "SELECT r.predictions, r.latency_ms, r.error, f.labels FROM requests r "
            "LEFT JOIN feedback f USING (request_id) "
            "WHERE r.deployed_model_id = ? AND r.ts >= ? AND r.ts < ?",
            [deployed_id, since, until])
        values, errors, squared = [], 0, []
        for predictions, _, error, labels in rows:
            errors += error is not None
            value = first_number(json.loads(predictions)) if predictions else None
            if value is not None:
                values.append(value)
                if labels:
                    squared.append((value - first_number(json.loads(labels))) ** 2)
        p99 = percentile([r[1] for r in rows], 0.99) if rows else 0.0
        return WindowMetrics.of(len(rows), errors, p99, values, squared)

    def describe(self) -> dict:
        with self._lock:
            return {"deployedModels": [{"id": i, "model": p} for i, p in
                                       self.state.deployed.items()],
                    "trafficSplit": dict(self.state.traffic_split)}

    def deploy(self, model_path: str, split: dict[str, int]) -> str:
        """Loads and deploys a version; ``split`` names it "0", as Vertex does."""
        loaded = self._load(model_path)  # load before touching the live state
        with self._lock:
            state = EndpointState(dict(self.state.deployed), dict(self.state.traffic_split))
            deployed_id = state.add(model_path, split)  # raises before anything changed
            self._models[deployed_id] = loaded
            self.state = state
            self.state.save(self._state_path)
        return deployed_id

    def set_split(self, split: dict[str, int]) -> None:
        with self._lock:
            self.state.traffic_split = check_split(split, set(self.state.deployed))
            self.state.save(self._state_path)

    def undeploy(self, deployed_id: str, split: dict[str, int] | None = None) -> None:
        with self._lock:
            if deployed_id not in self.state.deployed:
                raise EndpointError(f"model {deployed_id!r} is not deployed", 404)
            remaining = set(self.state.deployed) - {deployed_id}
            new_split = check_split(split, remaining) if split is not None else \
                dict(self.state.traffic_split)
            if new_split.get(deployed_id):
                raise EndpointError(f"model {deployed_id!r} still takes "
                                    f"{new_split[deployed_id]}% of traffic; move it first")
            del self.state.deployed[deployed_id]
            self.state.traffic_split = new_split
            self.state.save(self._state_path)
            self._models.pop(deployed_id, None)

    def _pick(self) -> tuple[str, object]:
        with self._lock:
            split = dict(self.state.traffic_split)
            if not split:
                raise EndpointError("no model is deployed with traffic", 400)
            chosen = self._random.choices(list(split), weights=list(split.values()))[0]
            return chosen, self._models[chosen]

    def predict(self, instances: list[dict]) -> dict:
        deployed_id, model = self._pick()
        started = time.perf_counter()
        try:
            outputs = model.predict_array(instances)
        except FullcycleError as err:
            self.log.record(deployed_id, instances, None,
                            (time.perf_counter() - started) * 1000, str(err))
            raise EndpointError(str(err)) from None
        # NaN is not JSON: clients get null, the log records the failure for the canary.
        nan = has_nan(outputs)
        predictions = _without_nan(outputs.tolist()) if nan else outputs.tolist()
        request_id = self.log.record(deployed_id, instances, predictions,
                                     (time.perf_counter() - started) * 1000,
                                     "NaN in predictions" if nan else None)
        return {"predictions": predictions, "deployedModelId": deployed_id,
                "requestId": request_id}
