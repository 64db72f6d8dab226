"""``FullcyclePipelineOperator``: start a model's pipeline run on the fullcycle runner and
wait for it, in the worker or deferred to the triggerer.

The fullcycle twin of the original platform's ``WazeTFXPipelineOperator``: Airflow
needs no TFX; the runner (Cloud Run, or ``fullcycle serve-runner`` locally) runs it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fullcycle_provider.compat import BaseOperator
from fullcycle_provider.hooks.runner import FullcycleRunnerHook
from fullcycle_provider.runs import check_finished, seconds, start_or_attach, wait_in_worker
from fullcycle_provider.triggers.events import run_from_event
from fullcycle_provider.triggers.runner import FullcycleRunTrigger


class FullcyclePipelineOperator(BaseOperator):
    """Starts a pipeline run of ``model`` and (by default) waits until it SUCCEEDED.

    Pushes to XCom: ``run_id`` (also the return value), ``link`` (the runner's link: the
    Vertex AI console on the cloud backend) and ``report_url`` (the runner's report page).

    Args:
        model: the model's name, as in the stack config (templated).
        fullcycle_conn_id: a ``fullcycle_runner`` connection.
        overrides: run settings such as ``{"train_steps": 2000}`` (templated), sent in the
            request body; the task logs a warning when the runner does not confirm them.
        wait_for_completion: False: succeed as soon as the runner accepted the run.
        deferrable: wait in the triggerer (``FullcycleRunTrigger``), not in a worker slot.
        poll_interval: seconds between looks at the run.
        timeout: how long to wait (seconds or a timedelta) before failing the task.
    """

    template_fields = ("model", "overrides")
    template_fields_renderers = {"overrides": "json"}
    ui_color = "#e8f1fb"

    def __init__(self, *, model: str, fullcycle_conn_id: str = "fullcycle_default",
                 overrides: dict[str, Any] | None = None, wait_for_completion: bool = True,
                 deferrable: bool = False, poll_interval: float | timedelta = 30,
                 timeout: float | timedelta = timedelta(hours=12), **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a model's name, got {model!r}")
        if overrides is not None and not isinstance(overrides, dict):
            raise ValueError(f"overrides must be a dict such as {{'train_steps': 2000}}, "
                             f"got {overrides!r}")
        self.model, self.overrides = model, overrides
        self.fullcycle_conn_id = fullcycle_conn_id
        self.wait_for_completion, self.deferrable = wait_for_completion, deferrable
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.timeout = seconds(timeout, "timeout")

    def execute(self, context: Any) -> str:
        hook = FullcycleRunnerHook(self.fullcycle_conn_id)
        ti = context["ti"]
        answer = start_or_attach(hook, self.model, self.overrides, ti, self.log)
        run_id = answer["run_id"]
        ti.xcom_push(key="run_id", value=run_id)
        ti.xcom_push(key="report_url", value=hook.report_url(run_id))
        if answer.get("link"):
            ti.xcom_push(key="link", value=answer["link"])
        self.log.info("fullcycle run %s of %r: %s", run_id, self.model, answer.get("state"))
        if not self.wait_for_completion:
            return run_id
        deadline = time.time() + self.timeout
        if self.deferrable:
            self.defer(trigger=FullcycleRunTrigger(
                run_id=run_id, fullcycle_conn_id=self.fullcycle_conn_id,
                poll_interval=self.poll_interval, end_time=deadline, timeout=self.timeout),
                method_name="execute_complete")
        run = wait_in_worker(hook, run_id, self.poll_interval, deadline, self.timeout, self.log)
        self._push_link(ti, run)
        return check_finished(run)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        """Resumes after ``FullcycleRunTrigger`` fired: succeeds only for a SUCCEEDED run."""
        if event and isinstance(event.get("run"), dict):
            self._push_link(context["ti"], event["run"])
        return run_from_event(event)

    @staticmethod
    def _push_link(ti: Any, run: dict[str, Any]) -> None:
        if run.get("link"):
            ti.xcom_push(key="link", value=run["link"])

    def on_kill(self) -> None:
        self.log.warning("the fullcycle run goes on: the runner has no cancel route")

