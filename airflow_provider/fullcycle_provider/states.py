"""Run states as the fullcycle runner reports them, and what each means to a waiting task.

Today's runner says QUEUED, RUNNING, SUBMITTED (handed to Vertex AI Pipelines),
SUCCEEDED or FAILED; a runner that reads Vertex AI says QUEUED, RUNNING,
SUCCEEDED, FAILED or CANCELLED. Vertex AI's own names (``PIPELINE_STATE_...``)
are read the same way. Any other state stops the wait with an error that names
it: waiting on a state nobody knows would hang the task until its timeout.
"""

from __future__ import annotations

WAITING = frozenset({"QUEUED", "PENDING", "SUBMITTED", "RUNNING", "CANCELLING"})
SUCCEEDED = frozenset({"SUCCEEDED"})
FAILED = frozenset({"FAILED", "CANCELLED"})
KNOWN = WAITING | SUCCEEDED | FAILED


def normalize(state: object) -> str:
    """``state`` in upper case without Vertex AI's ``PIPELINE_STATE_`` prefix."""
    text = str(state or "").strip().upper()
    return text.removeprefix("PIPELINE_STATE_")


def is_waiting(state: object) -> bool:
    """True while the run may still change (queued, submitted or running)."""
    return normalize(state) in WAITING


def is_terminal(state: object) -> bool:
    """True when waiting longer cannot help: the run ended, or its state is unknown."""
    return not is_waiting(state)


def outcome(state: object) -> str:
    """``"success"``, ``"failure"``, ``"waiting"`` or ``"unknown"`` for ``state``."""
    name = normalize(state)
    if name in SUCCEEDED:
        return "success"
    if name in FAILED:
        return "failure"
    if name in WAITING:
        return "waiting"
    return "unknown"


def describe_unknown(state: object) -> str:
    """The error text for a state this provider does not know."""
    return (f"the runner reported state {state!r}, which this provider does not know; "
            f"known states: {', '.join(sorted(KNOWN))}")
