"""The runner's canary and monitoring routes (both backends).

POST /rollouts/{model}:tick     -> one canary step of the model's endpoint (see ``app.py``);
                                   added when the runner has a canary (``rollouts``)
POST /monitoring/{model}:check  -> skew and drift of what the model's endpoint served;
                                   added when the backend checks locally (``monitoring``)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipelines.config.errors import FullcycleError
from pipelines.runner.logs import log_event
from pipelines.runner.runs import SCHEDULE_TIME, BadRunRequestError, schedule_seconds
from pipelines.stack.names import MONITORING_CHECK_ROUTE, ROLLOUT_TICK_ROUTE


def add_rollout_routes(app: FastAPI, rollouts: Callable[[str], object] | None,
                       after_tick: Callable[[str], str | None] | None,
                       monitoring: Callable[[str, float], dict] | None,
                       unknown_model: Callable[[str], JSONResponse | None],
                       error: Callable[..., JSONResponse]) -> None:
    """Adds the routes ``rollouts`` and ``monitoring`` allow to ``app``, answering with the
    runner's own helpers (``unknown_model(model)`` is the 404 of a model no folder has)."""
    if monitoring is not None:
        @app.post(MONITORING_CHECK_ROUTE)
        def check_monitoring(model: str, window: str = "1h"):
            from pipelines.serving.monitoring import parse_window

            if (refused := unknown_model(model)) is not None:
                return refused
            try:
                result = monitoring(model, parse_window(window))
            except FullcycleError as err:
                return error(409, str(err))
            return JSONResponse(result, status_code=200)

    if rollouts is not None:
        @app.post(ROLLOUT_TICK_ROUTE)
        def tick_rollout(model: str, request: Request):
            from pipelines.canary.controller import RolloutBusyError
            from pipelines.canary.endpoint import EndpointError

            if (refused := unknown_model(model)) is not None:
                return refused
            scheduled = request.headers.get(SCHEDULE_TIME)
            try:  # the tick's time is its schedule time: an early or late arrival counts alike
                now = schedule_seconds(scheduled) if scheduled else None
            except BadRunRequestError as err:
                return error(400, str(err))
            controller = None
            try:
                controller = rollouts(model)
                rollout = controller.tick(now=now)
            except RolloutBusyError as err:  # a concurrent or retried tick, or a push
                log_event("WARNING", str(err), model=model)
                return error(409, str(err))
            except FullcycleError as err:
                status = 409 if isinstance(err, EndpointError) and err.status not in (
                    503, 404) else 503
                log_event("ERROR", f"rollout tick of {model!r} failed: {err}", error=err,
                          model=model)
                return error(status, str(err))
            finally:
                getattr(getattr(controller, "endpoint", None), "close", lambda: None)()
            answer = ({"model": model, "status": "idle"} if rollout is None
                      else {"model": model, **asdict(rollout)})
            if rollout is not None and rollout.status == "needs_attention":
                log_event("ERROR", f"rollout of {model!r} needs attention: {rollout.reason}",
                          model=model, deployed_ids=rollout.deployed_ids)
                return JSONResponse({**answer, "error": rollout.reason}, status_code=409)
            if after_tick is not None:
                try:  # the traffic has moved already: a retried tick changes nothing more
                    answer["monitoring"] = after_tick(model)
                except FullcycleError as err:
                    log_event("ERROR", f"monitoring update after the rollout tick of {model!r} "
                                       f"failed: {err}", error=err, model=model)
                    return JSONResponse({**answer, "monitoring_error": str(err),
                                         "error": f"the rollout tick was taken, the monitoring "
                                                  f"update failed: {err}"}, status_code=502)
            return answer
