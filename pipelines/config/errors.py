"""One error type for every bad input a user can give, with a helpful message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FullcycleError(Exception):
    """An error the user can fix; the CLI prints its message without a traceback."""


class ConfigError(FullcycleError):
    """A model or stack configuration that does not validate."""


def did_you_mean(value: object, allowed: Iterable[str]) -> str:
    """Returns ' (did you mean "x"?)' for the closest allowed name, or ''."""
    matches = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.6)
    return f' (did you mean "{matches[0]}"?)' if matches else ""


def not_allowed(what: str, value: object, allowed: Iterable[str]) -> str:
    """Builds the standard message for a value outside an allowed set."""
    allowed = sorted(allowed)
    return (f"{what} {value!r} is not allowed{did_you_mean(value, allowed)}; "
            f"allowed: {', '.join(allowed) if allowed else '(none)'}")


def unknown(what: str, value: object, known: Iterable[str], *, list_max: int = 20) -> str:
    """Builds the standard message for a name that does not exist.

    Lists every known name when there are few, else the closest ones.
    """
    known = sorted(known)
    hint = did_you_mean(value, known)
    if len(known) <= list_max:
        return f"unknown {what} {value!r}{hint}; known: {', '.join(known) if known else '(none)'}"
    close = difflib.get_close_matches(str(value), known, n=5, cutoff=0.5)
    return (f"unknown {what} {value!r}{hint}; {len(known)} are known"
            + (f", the closest: {', '.join(close)}" if close else ""))


def problem_text(problem: dict) -> str:
    """A pydantic error entry as 'message (got value)', without repeating a shown value."""
    message = problem["msg"].removeprefix("Value error, ")
    value = problem.get("input")
    if isinstance(value, (dict, list)) or hasattr(value, "model_fields") or repr(value) in message:
        return message
    return f"{message} (got {value!r})"
