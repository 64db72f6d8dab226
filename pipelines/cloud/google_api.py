"""Calling Google APIs: failures as one clear error, values quoted for list filters."""

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
