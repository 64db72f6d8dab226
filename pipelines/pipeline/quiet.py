"""Log control: a progress line per component, library noise hidden unless verbose."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOISY_LOGGERS = ("tensorflow", "apache_beam", "absl", "tfx", "tensorflow_transform",
                 "tensorflow_model_analysis", "tensorflow_data_validation", "py.warnings",
                 "h5py", "matplotlib", "google")


_RUN_LOG: list = []  # the open log file of the run under way, if any
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


class _ErrorsOnly(logging.Filter):
    """Library records below ERROR are dropped; while a run is under way, its errors go to
    the run's log file instead of the console (the summary names the failure and the file)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return False
        if not _RUN_LOG:
            return True
        if not getattr(record, "_fullcycle_logged", False):
            record._fullcycle_logged = True
            _RUN_LOG[-1].write(_FORMAT.format(record) + "\n")
            _RUN_LOG[-1].flush()
        return False


@contextlib.contextmanager
def run_log(path: Path):
    """Collects a run's library errors and the trace of a failure in ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("fullcycle")
    with open(path, "a") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(_FORMAT)
        logger.addHandler(handler)
        propagate, logger.propagate = logger.propagate, False
        _RUN_LOG.append(log)
        try:
            yield path
        finally:
            _RUN_LOG.remove(log)
            logger.removeHandler(handler)
            logger.propagate = propagate


def quiet_environment(verbose: bool) -> None:
    """Hides library logs below ERROR; call before TensorFlow is imported.

    Libraries reset logger levels and add handlers while they run (absl's
    verbosity, ``basicConfig``), so a filter sits on the noisy loggers
    themselves and on the handlers that exist now.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if verbose:
        os.environ["FULLCYCLE_VERBOSE"] = "1"
        return
    from absl import logging as absl_logging

    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # Beam's worker processes, likewise
    for handler in (absl_logging.get_absl_handler(), *logging.getLogger().handlers):
        if not any(isinstance(f, _ErrorsOnly) for f in handler.filters):
            handler.addFilter(_ErrorsOnly())
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        if not any(isinstance(f, _ErrorsOnly) for f in logger.filters):
            logger.addFilter(_ErrorsOnly())


@dataclass
class ComponentTiming:
    """When a component started and how long it took."""

    node_id: str
    started: float
    seconds: float | None = None


@dataclass
class ProgressHook:
    """Times every component the local runner launches and reports progress.

    It wraps TFX's portable ``Launcher.launch`` for the duration of a run (log
    lines are not reliable: libraries change log levels mid-run). ``on_launched``
    gets each node's id and what its launch returned (TFX's ``ExecutionInfo``,
    with the output artifacts, or None) once the node succeeded.
    """

    on_event: Callable[[str, str, float | None], None] | None = None
    on_launched: Callable[[str, Any], None] | None = None
    timings: dict[str, ComponentTiming] = field(default_factory=dict)
    _original: Callable | None = None

    def _event(self, node: str, state: str) -> None:
        now = time.monotonic()
        if state == "running":
            self.timings[node] = ComponentTiming(node, now)
        else:
            self.timings[node].seconds = now - self.timings[node].started
        if self.on_event:
            self.on_event(node, state, self.timings[node].seconds)

    def __enter__(self) -> ProgressHook:
        from tfx.orchestration.portable import launcher

        original = self._original = launcher.Launcher.launch
        hook = self

        def launch(launcher_self, *args, **kwargs):
            node = launcher_self._pipeline_node.node_info.id  # noqa: SLF001
            hook._event(node, "running")
            try:
                info = original(launcher_self, *args, **kwargs)
            finally:
                hook._event(node, "finished")
            if hook.on_launched:
                hook.on_launched(node, info)
            return info

        launcher.Launcher.launch = launch
        return self

    def __exit__(self, *exc) -> None:
        from tfx.orchestration.portable import launcher

        launcher.Launcher.launch = self._original
