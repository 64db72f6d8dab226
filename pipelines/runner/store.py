"""The local backend's run records in SQLite, one row per run id.

Only the local twin keeps runs itself (on Vertex AI the PipelineJob is the
record). The run id is deterministic (:func:`~pipelines.runner.runs.run_id_for`),
so inserting an id that exists answers the run it names: a retried Scheduler
tick or a repeated ``Idempotency-Key`` never starts two runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.runner.runs import RunView


@dataclass
class Run:
    """One pipeline run as the local backend tracks it."""

    id: str
    model: str
    trigger: str
    trigger_key: str  # the run id (older files: the model and schedule time)
    state: str  # QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED
    created: float
    started: float | None = None
    finished: float | None = None
    link: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def view(self) -> RunView:
        """The run as the runner's API answers it."""
        detail = json.loads(self.detail) if self.detail else {}
        pushed = detail.get("pushed_path")
        return RunView(run_id=self.id, model=self.model, state=self.state,
                       trigger=self.trigger, created=self.created, started=self.started,
                       finished=self.finished, link=self.link,
                       pushed_version=pushed.rstrip("/").rsplit("/", 1)[-1] if pushed else None,
                       deployment=detail.get("deployment"), error=detail.get("error"),
                       detail=detail)


class RunStore:
    """Thread-safe run records in one SQLite file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, model TEXT NOT NULL, "
            "trigger TEXT NOT NULL, trigger_key TEXT NOT NULL UNIQUE, state TEXT NOT NULL, "
            "created REAL NOT NULL, started REAL, finished REAL, link TEXT, detail TEXT)")

    def _row(self, row) -> Run | None:
        return None if row is None else Run(*row)

    def create_or_get(self, run_id: str, model: str, trigger: str) -> tuple[Run, bool]:
        """A new QUEUED run ``run_id``, or the run of that id already recorded."""
        run = Run(id=run_id, model=model, trigger=trigger, trigger_key=run_id, state="QUEUED",
                  created=time.time())
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO runs (id, model, trigger, trigger_key, state, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run.id, run.model, run.trigger, run.trigger_key, run.state, run.created))
            if cursor.rowcount == 1:
                return run, True
            existing = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._row(existing), False

    def update(self, run_id: str, **fields) -> None:
        columns = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*fields.values(), run_id))

    def delete(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._row(self._db.execute("SELECT * FROM runs WHERE id = ?",
                                              (run_id,)).fetchone())

    def list(self, model: str | None = None, limit: int = 50) -> list[Run]:
        query, args = "SELECT * FROM runs", ()
        if model:
            query, args = query + " WHERE model = ?", (model,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created DESC LIMIT ?",
                                    (*args, limit)).fetchall()
        return [self._row(r) for r in rows]
