"""The HTTP API of the local endpoint twin (the Vertex AI endpoint REST shape)."""

from __future__ import annotations

import json
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipelines.serving.endpoint import EndpointError, LocalEndpoint

BASE = "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}"


async def _body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EndpointError(f"request body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise EndpointError("request body must be a JSON object")
    return body


def create_endpoint_app(local: LocalEndpoint) -> FastAPI:
    app = FastAPI(title="fullcycle local endpoint", docs_url=None, redoc_url=None)

    @app.exception_handler(EndpointError)
    async def refuse(_request: Request, err: EndpointError) -> JSONResponse:
        return JSONResponse({"error": {"code": err.status, "message": str(err)}},
                            status_code=err.status)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get(BASE + ":metrics")  # before GET BASE, whose {endpoint} would swallow ":metrics"
    def metrics(deployedModelId: str, since: float, until: float) -> dict:  # noqa: N803
        return asdict(local.window_metrics(deployedModelId, since, until))

    @app.get(BASE)
    def describe(project: str, location: str, endpoint: str) -> dict:  # noqa: ARG001
        return local.describe()

    @app.post(BASE + ":predict")
    async def predict(request: Request) -> dict:
        body = await _body(request)
        instances = body.get("instances")
        if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
            raise EndpointError("field 'instances' must be a list of objects")
        return local.predict(instances)

    @app.post(BASE + ":deployModel")
    async def deploy(request: Request) -> dict:
        body = await _body(request)
        model = (body.get("deployedModel") or {}).get("model")
        if not isinstance(model, str):
            raise EndpointError("field 'deployedModel.model' (a SavedModel path) is required")
        deployed_id = local.deploy(model, body.get("trafficSplit") or {"0": 100})
        return {"deployedModel": {"id": deployed_id, "model": model}}

    @app.post(BASE + ":undeployModel")
    async def undeploy(request: Request) -> dict:
        body = await _body(request)
        if not isinstance(body.get("deployedModelId"), str):
            raise EndpointError("field 'deployedModelId' is required")
        local.undeploy(body["deployedModelId"], body.get("trafficSplit"))
        return {}

    @app.patch(BASE)
    async def update(request: Request) -> dict:
        body = await _body(request)
        if not isinstance(body.get("trafficSplit"), dict):
            raise EndpointError("field 'trafficSplit' is required")
        local.set_split(body["trafficSplit"])
        return local.describe()

    @app.post(BASE + ":feedback")
    async def feedback(request: Request) -> dict:
        body = await _body(request)
        if not isinstance(body.get("requestId"), str) or not isinstance(body.get("labels"), list):
            raise EndpointError("fields 'requestId' (string) and 'labels' (list) are required")
        local.log.feedback(body["requestId"], body["labels"])
        return {}

    return app
