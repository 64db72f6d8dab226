"""The runner's HTTP API (what Cloud Scheduler, Airflow and people call), served by uvicorn.

POST /runs {"model": name}  -> 202 with the run (``RunView`` JSON + ``duplicate``) once the
                               backend accepted it (on Vertex AI: the PipelineJob exists);
                               the run id comes from ``Idempotency-Key``, else from
                               X-CloudScheduler-ScheduleTime, so a retry anywhere answers the
                               same run. 400 bad input, 404 unknown model, 422 invalid model
                               config or a model the stack does not list, 503 the backend
                               refused or failed (the cause named, and
                               logged); a 503 is safe to retry.
GET  /runs/{id}             -> the run: state QUEUED | RUNNING | SUCCEEDED | FAILED |
                               CANCELLED, times, link, pushed version; 404 unknown
GET  /runs?model=name       -> {"runs": [...]}, newest first
GET  /runs/{id}/report      -> the run's report page (HTML; local backend)
POST /tunings, GET /tunings/{id} -> a tuning, started and read as a run (``tunings.py``)
POST /scores {"model": name} -> 202 with the score (the run JSON; ids ``score-<model>-...``,
                               from the same headers as runs): the model's rows scored by
                               its served version (locally ``fullcycle score``; on Vertex AI
                               a BatchPredictionJob of the endpoint's champion). Statuses
                               as POST /runs.
GET  /scores/{id}           -> the score: state as a run's; 404 unknown
POST /monitoring/{model}:check -> skew and drift of what the model's endpoint served
                               (local backend; Vertex AI Model Monitoring runs its own)
POST /rollouts/{model}:tick -> one canary step of the model's endpoint (the model's rollout
                               Scheduler job calls it every interval; its schedule time is the
                               tick's time); 409 while another tick or a push holds the
                               model's lease, or when the endpoint needs attention; 502 when
                               the step was taken but the monitoring update after it failed
GET  /healthz

Errors are also written to stdout as JSON lines Cloud Logging reads (``logs.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.config.errors import ConfigError, FullcycleError, did_you_mean
from pipelines.runner.backends import Backend
from pipelines.runner.logs import log_event
from pipelines.runner.rollout_routes import add_rollout_routes
from pipelines.runner.runs import (
    IDEMPOTENCY_KEY,
    SCHEDULE_TIME,
    BadRunRequestError,
    run_id_for,
    schedule_seconds,
    score_id_for,
)
from pipelines.runner.tunings import add_tuning_routes
from pipelines.settings import Workspace
from pipelines.stack.config import StackConfig
from pipelines.stack.names import RUNS_ROUTE, SCORES_ROUTE


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _unknown_model(model: str) -> JSONResponse | None:
    from pipelines.config.registry import list_models

    known = list_models()
    if model in known:
        return None
    return _error(404, f"unknown model {model!r}{did_you_mean(model, known)}",
                  known_models=known)


async def _requested_model(request: Request) -> str | JSONResponse:
    """The known model a ``{"model": name}`` body names, or the 4xx answer."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return _error(400, f"request body is not valid JSON: {err}")
    if not isinstance(body, dict) or "model" not in body:
        return _error(400, "field 'model' is required: send {\"model\": \"<name>\"}")
    model = body["model"]
    if not isinstance(model, str):
        return _error(400, f"field 'model' must be a string, got {type(model).__name__}")
    return _unknown_model(model) or model


def _cause(err: Exception) -> str:
    return str(err) if isinstance(err, FullcycleError) else f"{type(err).__name__}: {err}"


def create_app(backend: Backend,
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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        """Any other failure: a 500 naming it, and one ERROR line for Cloud Logging."""
        log_event("ERROR", f"{request.method} {request.url.path} failed: {_cause(err)}",
                  error=err, path=request.url.path, backend=backend.name)
        return _error(500, f"{request.method} {request.url.path} failed: {_cause(err)}")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "backend": backend.name}

    def start(kind: str, submit: Callable[[], tuple], model: str, run_id: str,
              trigger: str) -> JSONResponse:
        """Validates the model's config and submits (in a worker thread: compiling takes
        seconds and must not hold up the event loop); ``kind``: run, tuning or score."""
        from pipelines.config.registry import load_config
        from pipelines.workflows.tune import require_tuning

        try:
            config = load_config(model)
            if kind == "tuning":
                require_tuning(config)
        except FullcycleError as err:  # an invalid config, or no search space to tune
            return _error(422, str(err))
        try:
            run, created = submit()
        except ConfigError as err:  # e.g. a model the stack does not list: no retry helps
            log_event("ERROR", f"could not start {kind} {run_id} of {model!r}: {err}",
                      error=err, model=model, run_id=run_id, trigger=trigger,
                      backend=backend.name)
            return _error(422, f"could not start a {kind} of {model!r}: {err}", run_id=run_id)
        except Exception as err:  # every cause is answered and logged
            log_event("ERROR", f"could not start {kind} {run_id} of {model!r}: {_cause(err)}",
                      error=err, model=model, run_id=run_id, trigger=trigger,
                      backend=backend.name)
            return _error(503, f"could not start a {kind} of {model!r}: {_cause(err)}",
                          run_id=run_id)
        log_event("INFO", f"{kind} {run.run_id} of {model!r} "
                          f"{'accepted' if created else 'already exists'}: {run.state}",
                  model=model, run_id=run.run_id, trigger=trigger, backend=backend.name)
        return JSONResponse({**run.as_dict(), "duplicate": not created}, status_code=202)

    def read(kind: str, id_: str, get: Callable[[str], object]):
        """A run's or score's JSON; 404 unknown, 502 when the backend cannot be read."""
        try:
            found = get(id_)
        except FullcycleError as err:
            log_event("ERROR", str(err), error=err, **{f"{kind}_id": id_},
                      backend=backend.name)
            return _error(502, str(err))
        if found is None:
            return _error(404, f"unknown {kind} {id_!r}")
        return found.as_dict()

    @app.post(RUNS_ROUTE, status_code=202)
    async def create_run(request: Request):
        model = await _requested_model(request)
        if isinstance(model, JSONResponse):
            return model
        try:
            run_id, trigger = run_id_for(model, request.headers.get(SCHEDULE_TIME),
                                         request.headers.get(IDEMPOTENCY_KEY))
        except BadRunRequestError as err:
            return _error(400, str(err))
        return await run_in_threadpool(start, "run", lambda: backend.submit(
            model, run_id, trigger), model, run_id, trigger)

    @app.post(SCORES_ROUTE, status_code=202)
    async def create_score(request: Request):
        model = await _requested_model(request)
        if isinstance(model, JSONResponse):
            return model
        scheduled = request.headers.get(SCHEDULE_TIME)
        try:
            score_id, trigger = score_id_for(model, scheduled,
                                             request.headers.get(IDEMPOTENCY_KEY))
            requested = dt.datetime.fromtimestamp(
                schedule_seconds(scheduled) if scheduled else time.time(), dt.timezone.utc)
        except BadRunRequestError as err:
            return _error(400, str(err))
        return await run_in_threadpool(start, "score", lambda: backend.submit_score(
            model, score_id, trigger, requested), model, score_id, trigger)

    @app.get(SCORES_ROUTE + "/{score_id}")
    def get_score(score_id: str):
        return read("score", score_id, backend.get_score)

    @app.get("/runs/{run_id}")
    def get_run(run_id: str):
        return read("run", run_id, backend.get)

    add_tuning_routes(app, _requested_model, lambda model, tuning_id, trigger: start(
        "tuning", lambda: backend.submit(model, tuning_id, trigger, tuning=True), model,
        tuning_id, trigger), get_run, _error)

    @app.get("/runs/{run_id}/report")
    def run_report(run_id: str):
        run = backend.get(run_id)
        if run is None:
            return _error(404, f"unknown run {run_id!r}")
        if reports is None:
            return _error(404, f"the {backend.name} backend keeps no run reports; the run's "
                               f"pipeline job: {run.link}")
        pipeline_run = run.detail.get("pipeline_run_id")
        if not pipeline_run:
            return _error(409, f"run {run_id!r} is {run.state}: it has no report (yet)")
        try:
            return HTMLResponse(reports(run.model, pipeline_run))
        except FullcycleError as err:
            return _error(404, str(err))

    add_rollout_routes(app, rollouts, after_tick, monitoring, _unknown_model, _error)

    @app.get(RUNS_ROUTE)
    def list_runs(model: str | None = None):
        if model is not None and (refused := _unknown_model(model)) is not None:
            return refused
        try:
            return {"runs": [r.as_dict() for r in backend.list(model)]}
        except FullcycleError as err:
            log_event("ERROR", str(err), error=err, model=model, backend=backend.name)
            return _error(502, str(err))

    return app


BACKENDS = ("local", "vertex")


def runner_app(backend: str, stack: str, workspace: Workspace,
               overrides: dict | None = None,
               rollout_interval: float | None = None) -> FastAPI:
    """The runner as ``fullcycle serve-runner`` serves it: its backend and canary.

    ``local``: pipelines with ``LocalDagRunner`` (``overrides`` such as
    ``train_steps`` apply to every run) and the canary over the local endpoints
    (``rollout_interval`` seconds instead of the stack's minutes). ``vertex``:
    Vertex AI Pipelines and the canary over the Vertex AI endpoints of ``stack``.
    """
    from pipelines.config.errors import not_allowed
    from pipelines.runner.backends import LocalBackend

    if backend not in BACKENDS:
        raise FullcycleError(not_allowed("backend", backend, BACKENDS))
    StackConfig.load(stack)  # a bad stack config fails now, not at the first tick
    if backend == "local":
        from pipelines.canary.policy import CanaryPolicy
        from pipelines.runner.store import RunStore
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

        store = RunStore(workspace.home / "runner" / "runs-local.sqlite")
        scores = RunStore(workspace.home / "runner" / "scores-local.sqlite")
        return create_app(LocalBackend(store, overrides, stack=stack, scores=scores), rollouts,
                          reports,
                          monitoring)

    from pipelines.cloud.rollout import cloud_controller
    from pipelines.runner.vertex import VertexBackend

    def follow_deployed_models(model: str) -> str | None:
        from pipelines.cloud.monitoring import point_at_serving, spec_for

        spec = spec_for(model, stack)
        return point_at_serving(spec) if spec is not None else None

    # Nothing on this backend is kept in the container: runs are PipelineJobs, rollout
    # state and the model's lease are objects in its bucket.
    return create_app(VertexBackend(stack), lambda m: cloud_controller(m, stack),
                      after_tick=follow_deployed_models)
