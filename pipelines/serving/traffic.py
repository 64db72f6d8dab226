"""Live traffic for a local endpoint: real eval-split rows, their labels fed back.

The twin of production clients (and of Flagger's load tester): each request
predicts one held-out row, then posts its label as feedback, so the canary sees
error rate, latency, prediction shift and a labelled metric per deployed model.
"""

from __future__ import annotations

import json
import random
import threading
import time

from pipelines.config.model_config import ModelConfig
from pipelines.settings import Workspace


def eval_examples(config: ModelConfig, workspace: Workspace,
                  limit: int = 500) -> list[tuple[dict, object]]:
    """Rows of the model's eval split from the warehouse: (instance without label, label)."""
    from pipelines.data.splits import split_queries
    from pipelines.data.warehouse import connect

    (query,) = [q for q in split_queries(config.source, config.label_key, "duckdb")
                if q.name == "eval"]
    con = connect(workspace.warehouse)
    try:
        frame = con.execute(f"{query.sql}\nLIMIT {int(limit)}").fetchdf()
    finally:
        con.close()
    rows = json.loads(frame.to_json(orient="records"))
    return [({k: v for k, v in row.items() if k != config.label_key}, row[config.label_key])
            for row in rows]


class Traffic:
    """Background clients sending ``rate`` requests per second in total, until stopped."""

    def __init__(self, url: str, examples: list[tuple[dict, object]], rate: float = 20.0,
                 clients: int = 2, feedback: bool = True, seed: int = 0):
        if not examples:
            raise ValueError("traffic needs at least one example")
        self.url, self.examples, self.feedback = url, examples, feedback
        self.interval = clients / rate
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._count_lock = threading.Lock()
        self._random = random.Random(seed)
        self._threads = [threading.Thread(target=self._client, daemon=True, name=f"traffic-{i}")
                         for i in range(clients)]

    def _client(self) -> None:
        from pipelines.serving.client import HttpEndpoint
        from pipelines.serving.endpoint import EndpointError

        endpoint = HttpEndpoint(self.url)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                instance, label = self._random.choice(self.examples)
                try:
                    answer = endpoint.predict([instance])
                    if self.feedback:
                        endpoint.feedback(answer["requestId"], [label])
                    with self._count_lock:
                        self.ok += 1
                except EndpointError as err:
                    self.failures.append(str(err))
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            endpoint.close()

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
