"""The runner's HTTP API (what Cloud Scheduler calls), served by uvicorn.

POST /runs {"model": name}  -> 202 {"run_id", ...}; the same model and
                               X-CloudScheduler-ScheduleTime never start two runs
GET  /runs/{id}             -> state, timings, link
GET  /runs/{id}/report      -> the run's report page (HTML; local backend)
POST /monitoring/{model}:check -> skew and drift of what the model's endpoint served
                               (local backend; Vertex AI Model Monitoring runs its own)
GET  /runs?model=name       -> recent runs
POST /rollouts/{model}:tick -> one canary analysis of the model's endpoint (the
                               model's rollout Scheduler job calls it every interval);
                               409 while another tick of the model runs
GET  /healthz
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from pipelines.config.errors import ConfigError, FullcycleError, did_you_mean
from pipelines.runner.backends import Backend
from pipelines.runner.store import RunStore
from pipelines.settings import Workspace
from pipelines.stack.config import StackConfig
from pipelines.stack.names import MONITORING_CHECK_ROUTE, ROLLOUT_TICK_ROUTE, RUNS_ROUTE

SCHEDULE_TIME = "X-CloudScheduler-ScheduleTime"


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(store: RunStore, backend: Backend,
               rollouts: Callable[[str], object] | None = None,
               reports: Callable[[str, str], str] | None = None,
               monitoring: Callable[[str, float], dict] | None = None,
               after_tick: Callable[[str], str | None] | None = None) -> FastAPI:
    """``rollouts(model)`` gives the model's CanaryController; without it, no rollout route.
    ``reports(model, pipeline_run_id)`` renders a run's report page; without it, reports
    are refused with a pointer to the run's link. ``monitoring(model, window_seconds)`` checks
    a model's endpoint; without it, no monitoring route. ``after_tick(model)`` runs after
    each rollout tick (on Vertex AI: the monitoring job follows the deployed models)."""
    app = FastAPI(title="fullcycle runner", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "backend": backend.name}

    @app.post(RUNS_ROUTE, status_code=202)
    async def create_run(request: Request):
        from pipelines.config.registry import list_models, load_config

        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return _error(400, f"request body is not valid JSON: {err}")
        if not isinstance(body, dict) or "model" not in body:
            return _error(400, "field 'model' is required: send {\"model\": \"<name>\"}")
        model = body["model"]
        if not isinstance(model, str):
            return _error(400, f"field 'model' must be a string, got {type(model).__name__}")
        known = list_models()
        if model not in known:
            return _error(404, f"unknown model {model!r}{did_you_mean(model, known)}",
                          known_models=known)
        try:
            load_config(model)
        except ConfigError as err:
            return _error(422, str(err))
        schedule_time = request.headers.get(SCHEDULE_TIME)
        trigger = "scheduler" if schedule_time else "manual"
        run, created = store.create_or_get(model, trigger, schedule_time)
        if created:
            try:
                backend.submit(run)
            except Exception as err:  # nothing half-started: forget the run, let a retry try
                store.delete(run.id)
                return _error(503, f"could not start a run of {model!r}: {err}")
        run = store.get(run.id)
        return JSONResponse({"run_id": run.id, "model": model, "state": run.state,
                             "duplicate": not created, "link": run.link}, status_code=202)

    @app.get("/runs/{run_id}")
    def get_run(run_id: str):
        run = store.get(run_id)
        if run is None:
            return _error(404, f"unknown run {run_id!r}")
        data = run.as_dict()
        data["detail"] = json.loads(run.detail) if run.detail else None
        return data

    @app.get("/runs/{run_id}/report")
    def run_report(run_id: str):
        run = store.get(run_id)
        if run is None:
            return _error(404, f"unknown run {run_id!r}")
        if reports is None:
            return _error(404, f"the {backend.name} backend keeps no run reports; the run's "
                               f"pipeline job: {run.link}")
        pipeline_run = (json.loads(run.detail) if run.detail else {}).get("pipeline_run_id")
        if not pipeline_run:
            return _error(409, f"run {run_id!r} is {run.state}: it has no report (yet)")
        try:
            return HTMLResponse(reports(run.model, pipeline_run))
        except FullcycleError as err:
            return _error(404, str(err))

    if monitoring is not None:
        @app.post(MONITORING_CHECK_ROUTE)
        def check_monitoring(model: str, window: str = "1h"):
            from pipelines.config.registry import list_models
            from pipelines.serving.monitoring import parse_window

            known = list_models()
            if model not in known:
                return _error(404, f"unknown model {model!r}{did_you_mean(model, known)}",
                              known_models=known)
            try:
                result = monitoring(model, parse_window(window))
            except FullcycleError as err:
                return _error(409, str(err))
            return JSONResponse(result, status_code=200)

    if rollouts is not None:
        @app.post(ROLLOUT_TICK_ROUTE)
        def tick_rollout(model: str):
            from pipelines.canary.controller import RolloutBusyError
            from pipelines.canary.endpoint import EndpointError
            from pipelines.config.registry import list_models

            known = list_models()
            if model not in known:
                return _error(404, f"unknown model {model!r}{did_you_mean(model, known)}",
                              known_models=known)
            controller = None
            try:
                controller = rollouts(model)
                rollout = controller.tick()
            except EndpointError as err:
                return _error(503 if err.status in (503, 404) else 409, str(err))
            except RolloutBusyError as err:  # a concurrent or retried tick; nothing changed
                return _error(409, str(err))
            except FullcycleError as err:
                return _error(503, str(err))
            finally:
                getattr(getattr(controller, "endpoint", None), "close", lambda: None)()
            answer = ({"model": model, "status": "idle"} if rollout is None
                      else {"model": model, **asdict(rollout)})
            if after_tick is not None:
                try:  # the traffic has moved already: a failure here is reported, not raised
                    answer["monitoring"] = after_tick(model)
                except FullcycleError as err:
                    answer["monitoring_error"] = str(err)
            return answer

    @app.get(RUNS_ROUTE)
    def list_runs(model: str | None = None) -> dict:
        return {"runs": [r.as_dict() for r in store.list(model)]}

    return app


BACKENDS = ("local", "vertex")


def runner_app(backend: str, stack: str, workspace: Workspace,
               overrides: dict | None = None,
               rollout_interval: float | None = None) -> FastAPI:
    """The runner as ``fullcycle serve-runner`` serves it: its run store, backend and canary.

    ``local``: pipelines with ``LocalDagRunner`` (``overrides`` such as
    ``train_steps`` apply to every run) and the canary over the local endpoints
    (``rollout_interval`` seconds instead of the stack's minutes). ``vertex``:
    Vertex AI Pipelines and the canary over the Vertex AI endpoints of ``stack``.
    """
    from pipelines.config.errors import not_allowed
    from pipelines.runner.backends import LocalBackend, VertexBackend

    if backend not in BACKENDS:
        raise FullcycleError(not_allowed("backend", backend, BACKENDS))
    StackConfig.load(stack)  # a bad stack config fails now, not at the first tick
    store = RunStore(workspace.home / "runner" / f"runs-{backend}.sqlite")
    if backend == "local":
        from pipelines.canary.policy import CanaryPolicy
        from pipelines.serving.rollout import canary_settings, controller_for

        def rollouts(model: str):
            policy = CanaryPolicy.of(canary_settings(model, stack), rollout_interval)
            return controller_for(workspace, model, policy)

        def reports(model: str, pipeline_run_id: str) -> str:
            from pipelines.report.pages import gather
            from pipelines.report.render import render_report
            from pipelines.report.runs import find_run

            return render_report(gather(workspace, find_run(workspace, model, pipeline_run_id)))

        def monitoring(model: str, window_seconds: float) -> dict:
            from pipelines.serving.monitoring import monitor_model

            return monitor_model(workspace, model, stack, window_seconds)

        return create_app(store, LocalBackend(store, overrides, stack=stack), rollouts, reports,
                          monitoring)

    from pipelines.cloud.rollout import cloud_controller

    def follow_deployed_models(model: str) -> str | None:
        from pipelines.cloud.monitoring import point_at_serving, spec_for

        spec = spec_for(model, stack)
        return point_at_serving(spec) if spec is not None else None

    return create_app(store, VertexBackend(store, stack), lambda m: cloud_controller(m, stack),
                      after_tick=follow_deployed_models)
