"""The runner's tuning routes: a tuning is a run of the model's tuning pipeline.

POST /tunings {"model": name} -> 202 with the tuning (``RunView`` JSON + ``duplicate``): its
                                 id from ``Idempotency-Key`` as for runs, never the same as a
                                 run's (``tuning_id_for``); 422 when the model's config
                                 declares no tuning; otherwise answered as ``POST /runs``.
GET  /tunings/{id}            -> the tuning, as ``GET /runs/{id}``; 404 for a run's id

Both backends start it as they start a run (``Backend.submit(..., tuning=True)``): on
Vertex AI a PipelineJob of the tuning pipeline, locally ``fullcycle tune``'s workflow in
a process of its own. Its result is the pointer every later run of the model imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.runner.runs import (
    IDEMPOTENCY_KEY,
    BadRunRequestError,
    is_tuning_id,
    tuning_id_for,
)

TUNINGS_ROUTE = "/tunings"


def add_tuning_routes(app: FastAPI,
                      requested_model: Callable[[Request], Awaitable[str | JSONResponse]],
                      start: Callable[..., JSONResponse],
                      get_run: Callable[[str], object],
                      error: Callable[..., JSONResponse]) -> None:
    """Adds the routes to ``app``, answering with the runner's own helpers: the model
    a body names, ``start(model, id, trigger)`` (validates and submits the tuning),
    ``get_run(id)`` and errors."""

    @app.post(TUNINGS_ROUTE, status_code=202)
    async def create_tuning(request: Request):
        model = await requested_model(request)
        if isinstance(model, JSONResponse):
            return model
        try:
            tuning_id, trigger = tuning_id_for(model, request.headers.get(IDEMPOTENCY_KEY))
        except BadRunRequestError as err:
            return error(400, str(err))
        return await run_in_threadpool(start, model, tuning_id, trigger)

    @app.get(TUNINGS_ROUTE + "/{tuning_id}")
    def get_tuning(tuning_id: str):
        if not is_tuning_id(tuning_id):
            return error(404, f"unknown tuning {tuning_id!r}: a tuning id is what "
                              f"POST {TUNINGS_ROUTE} answered")
        return get_run(tuning_id)
