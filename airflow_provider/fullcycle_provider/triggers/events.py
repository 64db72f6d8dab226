"""Reading a ``FullcycleRunTrigger`` event back in the task (operator and sensor alike)."""

from __future__ import annotations

from typing import Any

from fullcycle_provider.compat import AirflowException
from fullcycle_provider.runs import check_finished, timeout_error


def run_from_event(event: dict[str, Any] | None) -> str:
    """The run id of a SUCCEEDED run; otherwise the error the task fails with."""
    if not event:
        raise AirflowException("the fullcycle trigger ended without an event")
    status = event.get("status")
    if status == "finished":
        return check_finished(event["run"])
    if status == "timeout":
        raise timeout_error(event["run"], event.get("timeout") or 0)
    if status == "error":
        raise AirflowException(f"waiting for fullcycle run {event.get('run_id')}: "
                               f"{event.get('message')}")
    raise AirflowException(f"the fullcycle trigger sent an event with status {status!r}; "
                           "expected finished, timeout or error")
