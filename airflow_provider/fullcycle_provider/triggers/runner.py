"""``FullcycleRunTrigger``: polls a run from the triggerer until it ends or time runs out.

Its arguments (run id, connection id, poll interval, end time) are all it keeps:
Airflow writes them to its database, so no token is among them; each poll reads
the connection and fetches a fresh token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fullcycle_provider import states
from fullcycle_provider.auth import ConnectionSettingsError
from fullcycle_provider.compat import BaseTrigger, TriggerEvent
from fullcycle_provider.hooks.runner import FullcycleRunnerHook, RunnerError


class FullcycleRunTrigger(BaseTrigger):
    """Fires one event when run ``run_id`` ends, its state is unknown, or ``end_time`` passes.

    Events: ``{"status": "finished", "run": {...}}``, ``{"status": "timeout", "run": {...},
    "timeout": seconds}`` or ``{"status": "error", "message": ...}`` (the runner cannot be
    read even after the hook's retries, or the connection is unusable).
    """

    def __init__(self, run_id: str, fullcycle_conn_id: str = "fullcycle_default",
                 poll_interval: float = 30.0, end_time: float | None = None,
                 timeout: float | None = None):
        super().__init__()
        self.run_id, self.fullcycle_conn_id = run_id, fullcycle_conn_id
        self.poll_interval, self.end_time, self.timeout = poll_interval, end_time, timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"run_id": self.run_id, "fullcycle_conn_id": self.fullcycle_conn_id,
                 "poll_interval": self.poll_interval, "end_time": self.end_time,
                 "timeout": self.timeout})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = FullcycleRunnerHook(self.fullcycle_conn_id)
        while True:
            try:
                run = await hook.aget_run(self.run_id)
            except (RunnerError, ConnectionSettingsError) as err:
                yield TriggerEvent({"status": "error", "run_id": self.run_id,
                                    "message": str(err)})
                return
            if states.is_terminal(run.get("state")):
                yield TriggerEvent({"status": "finished", "run": run})
                return
            left = None if self.end_time is None else self.end_time - time.time()
            if left is not None and left <= 0:
                yield TriggerEvent({"status": "timeout", "run": run, "timeout": self.timeout})
                return
            self.log.info("run %s is %s; next look in %g s", self.run_id, run.get("state"),
                          self.poll_interval if left is None else min(self.poll_interval, left))
            await asyncio.sleep(self.poll_interval if left is None
                                else min(self.poll_interval, left))
