"""Calling Google APIs: failures as one clear error, values quoted for list filters, times
read whatever the SDK hands back."""

from __future__ import annotations

import contextlib

from pipelines.config.errors import FullcycleError


@contextlib.contextmanager
def google_errors(what: str):
    """A failed Google API call as a FullcycleError naming what was being done."""
    from google.api_core.exceptions import GoogleAPICallError

    try:
        yield
    except GoogleAPICallError as err:
        raise FullcycleError(f"{what} failed: {err.code} {err.message}") from None


def quoted(value: str) -> str:
    """``value`` inside a double-quoted Vertex AI list filter."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def seconds_of(stamp) -> float | None:
    """A resource's time as seconds since the epoch; None when unset. The SDK hands back a
    proto-plus datetime or, for raw protobuf messages (what it gives after some imports), a
    ``Timestamp``: both are read."""
    if not stamp:
        return None
    return stamp.seconds + stamp.nanos / 1e9 if hasattr(stamp, "nanos") else stamp.timestamp()
