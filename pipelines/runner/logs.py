"""Structured log lines on stdout, as Cloud Logging reads them from Cloud Run.

One JSON object per line: ``severity`` and ``message`` become the entry's
severity and text, the other fields its ``jsonPayload`` (model, run id, error
type); an ERROR with ``stack_trace`` reaches Error Reporting. Locally the same
lines go to the terminal.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback

_lock = threading.Lock()
SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


def log_event(severity: str, message: str, error: BaseException | None = None,
              **fields) -> None:
    """Writes one log line; ``fields`` with a None value are left out."""
    assert severity in SEVERITIES, severity
    entry = {"severity": severity, "message": message,
             "logger": "fullcycle.runner",
             **{k: v for k, v in fields.items() if v is not None}}
    if error is not None:
        entry["error_type"] = type(error).__name__
        if error.__traceback__ is not None:
            entry["stack_trace"] = "".join(traceback.format_exception(
                type(error), error, error.__traceback__))
    line = json.dumps(entry, default=str)
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
