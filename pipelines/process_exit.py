"""Ending a process that imported TensorFlow without Python's teardown of it.

What remains once every exit handler has run is Python tearing down TensorFlow's
and Beam's modules and objects: 2 s of every run's wall time, with nothing left to
write, and TensorFlow's function finalizers printing tracebacks when the module
globals they use are already gone. The CLI and the local Beam worker processes
(``pipelines/pipeline/beam_worker.py``) end this way.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable

_STATUS: list = []


def _skip_teardown() -> None:
    """Registered before any library's exit handler, so it runs last."""
    if not _STATUS or "tensorflow" not in sys.modules:
        return
    import logging

    code = _STATUS[0]
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def run_skipping_teardown(main: Callable[[], object]) -> None:
    """Runs ``main``; once it returns or exits and every exit handler has run, the
    process ends with its status (an uncaught exception ends it as Python would)."""
    atexit.register(_skip_teardown)
    try:
        main()
    except SystemExit as done:  # how click ends every command, successful or not
        _STATUS.append(done.code)
        raise
    _STATUS.append(0)
