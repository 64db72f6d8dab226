"""The scores of a model, newest first: one record per ``fullcycle score`` call.

Each call (scored or blocked by the data check) is kept as
``.fullcycle/scores/<model>/<score id>.json``, for ``fullcycle runs`` and the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.settings import Workspace

RECENT = 10  # the scores `fullcycle runs` and the report show


@dataclass
class ScoreSummary:
    """What one score did: rows, time, the version used, and the data check's findings."""

    score_id: str
    model: str
    version: str
    destination: str
    started_at: float
    status: str = "running"  # scored | blocked | failed
    rows: int = 0
    seconds: float = 0.0
    checked_rows: int = 0  # rows the data check's statistics were computed on
    baseline: str | None = None  # the data baseline's version, None when there is none
    findings: list[dict[str, Any]] = field(default_factory=list)
    where: str | None = None
    limit: int | None = None
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def blocking(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["action"] == "block"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["action"] == "warn"]

    def findings_text(self) -> str:
        """'no findings', or the counts of blocking findings and warnings."""
        blocked, warned = len(self.blocking), len(self.warnings)
        if not blocked and not warned:
            return "no findings" if self.baseline else "not checked (no data baseline)"
        return ", ".join(part for part in (f"{blocked} blocking" if blocked else "",
                                           f"{warned} warning(s)" if warned else "") if part)

    def line(self) -> str:
        """The summary line: rows, seconds, rows/s, findings."""
        return (f"{self.model} version {self.version}: {self.rows} rows in {self.seconds:.1f} s "
                f"({self.rows_per_second:,.0f} rows/s) -> {self.destination}, score_id "
                f"{self.score_id}; data check: {self.findings_text()}")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreSummary:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def scores_dir(workspace: Workspace, model: str) -> Path:
    return workspace.home / "scores" / model


def record_score(workspace: Workspace, summary: ScoreSummary) -> Path:
    """Keeps ``summary`` for ``fullcycle runs`` and reports; returns its file."""
    path = scores_dir(workspace, summary.model) / f"{summary.score_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary.as_dict(), default=str))
    tmp.replace(path)
    return path


def list_scores(workspace: Workspace, model: str, limit: int | None = None) -> list[ScoreSummary]:
    """The model's recorded scores, newest first (at most ``limit``)."""
    folder = scores_dir(workspace, model)
    scores = [ScoreSummary.from_dict(json.loads(p.read_text()))
              for p in folder.glob("*.json")] if folder.is_dir() else []
    scores.sort(key=lambda s: (s.started_at, s.score_id), reverse=True)
    return scores[:limit] if limit is not None else scores


def score_row(summary: ScoreSummary) -> dict[str, Any]:
    """One score as ``fullcycle runs`` lists it (and ``--json`` gives it)."""
    return {"score_id": summary.score_id, "started_at": summary.started_at,
            "status": summary.status, "version": summary.version, "rows": summary.rows,
            "seconds": round(summary.seconds, 2), "destination": summary.destination,
            "findings": summary.findings_text(), "error": summary.error}
