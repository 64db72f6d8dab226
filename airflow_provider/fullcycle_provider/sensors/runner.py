"""``FullcycleRunSensor``: waits for a run someone else started (another DAG, a schedule)."""

from __future__ import annotations

import time
from typing import Any

from fullcycle_provider import states
from fullcycle_provider.compat import AirflowFailException, BaseSensorOperator
from fullcycle_provider.hooks.runner import FullcycleRunnerHook
from fullcycle_provider.runs import check_finished, seconds
from fullcycle_provider.triggers.events import run_from_event
from fullcycle_provider.triggers.runner import FullcycleRunTrigger


class FullcycleRunSensor(BaseSensorOperator):
    """Succeeds when run ``run_id`` SUCCEEDED; fails (no retry helps) when it FAILED, was
    CANCELLED or reports a state this provider does not know.

    Args:
        run_id: the runner's run id (templated: e.g. an XCom of FullcyclePipelineOperator).
        fullcycle_conn_id: a ``fullcycle_runner`` connection.
        deferrable: wait in the triggerer instead of poking from a worker.
        poke_interval, timeout, mode: as every sensor's.
    """

    template_fields = ("run_id",)

    def __init__(self, *, run_id: str, fullcycle_conn_id: str = "fullcycle_default",
                 deferrable: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.run_id, self.fullcycle_conn_id, self.deferrable = run_id, fullcycle_conn_id, deferrable

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        timeout = seconds(self.timeout, "timeout")
        self.defer(trigger=FullcycleRunTrigger(
            run_id=self.run_id, fullcycle_conn_id=self.fullcycle_conn_id,
            poll_interval=seconds(self.poke_interval, "poke_interval"),
            end_time=time.time() + timeout,
            timeout=timeout), method_name="execute_complete")

    def poke(self, context: Any) -> bool:
        run = FullcycleRunnerHook(self.fullcycle_conn_id).get_run(self.run_id)
        if states.is_waiting(run.get("state")):
            self.log.info("run %s is %s", self.run_id, run.get("state"))
            return False
        try:
            check_finished(run)
        except Exception as err:
            raise AirflowFailException(str(err)) from err
        return True

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        """Resumes after ``FullcycleRunTrigger`` fired."""
        try:
            return run_from_event(event)
        except Exception as err:
            raise AirflowFailException(str(err)) from err
