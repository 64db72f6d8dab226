"""The HTTP API of the local endpoint twin (the Vertex AI endpoint REST shape).

``:predict`` is the hot path and skips the framework: a small ASGI layer reads
the body, predicts on the event loop (for small models a thread hand-off costs
more than it overlaps: bench/RESULTS.md) and writes pre-encoded JSON.
Everything else is a FastAPI route.

As on Vertex AI, a custom method (``...endpoints/E:predict``) called with the
wrong HTTP method answers 405, and a ``:predict`` body over the online
prediction limit (1.5 MB on Vertex; ``max_request_bytes``) answers 413, so a
client that works against the twin does not fail on Vertex.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from pipelines.config.errors import unknown
from pipelines.serving import MAX_REQUEST_BYTES
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


CUSTOM_METHOD = re.compile(r"^/v1/projects/[^/]+/locations/[^/]+/endpoints/[^/:]+:([^/:]*)$")
# The HTTP method of each custom method the twin serves (``:monitor`` is the twin's own).
METHODS = {"predict": "POST", "deployModel": "POST", "undeployModel": "POST",
           "feedback": "POST", "monitor": "POST", "metrics": "GET"}
JSON_HEADERS = [(b"content-type", b"application/json")]


def _error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"error": {"code": status, "message": message}})


def too_large(size: int | None, limit: int) -> str:
    """The 413 message: the body's size (when known) and the limit."""
    got = f"{size} bytes" if size is not None else "more"
    return (f"request body is too large: {got}, over the limit of {limit} bytes (Vertex AI "
            "refuses online prediction requests over 1.5 MB); send fewer instances per request")


class PredictPath:
    """ASGI: ``POST ...:predict`` answered here, a custom method called with the wrong HTTP
    method refused, every other request passed to ``app``."""

    def __init__(self, app, local: LocalEndpoint, max_request_bytes: int = MAX_REQUEST_BYTES):
        if max_request_bytes < 1:
            raise ValueError(f"max_request_bytes {max_request_bytes} must be at least 1")
        self.app, self.local, self.max_request_bytes = app, local, max_request_bytes

    async def __call__(self, scope, receive, send) -> None:
        found = CUSTOM_METHOD.match(scope["path"]) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        verb = found.group(1)
        if verb not in METHODS:  # else GET would describe the endpoint "E:verb"
            message = unknown("endpoint method", f":{verb}", (f":{m}" for m in METHODS))
            await _respond(send, 404, _error_body(404, message))
            return
        allowed = METHODS[verb]
        if scope["method"] != allowed:
            message = f"method {scope['method']} is not allowed on :{verb}; use {allowed}"
            await _respond(send, 405, _error_body(405, message),
                           [(b"allow", allowed.encode())])
            return
        if verb != "predict":
            await self.app(scope, receive, send)
            return
        status, payload = await self._read(scope, receive)
        if status == 200:
            status, payload = self.predict(payload)
        await _respond(send, status, payload)

    async def _read(self, scope, receive) -> tuple[int, bytes]:
        """(200, body), or (413, error) as soon as the body is known to be over the limit."""
        limit = self.max_request_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return 413, _error_body(413, too_large(int(declared), limit))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # chunked upload without a length: stop reading
                return 413, _error_body(413, too_large(None, limit))
            chunks.append(chunk)
            more = message.get("more_body", False)
        return 200, b"".join(chunks)

    def predict(self, body: bytes) -> tuple[int, bytes]:
        try:
            request = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as err:
            return 400, _error_body(400, f"request body is not valid JSON: {err}")
        instances = request.get("instances") if isinstance(request, dict) else None
        if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
            return 400, _error_body(400, "field 'instances' must be a list of objects")
        try:
            return 200, orjson.dumps(self.local.predict(instances))
        except EndpointError as err:
            return err.status, _error_body(err.status, str(err))


async def _respond(send, status: int, payload: bytes,
                   headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*JSON_HEADERS, *headers,
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def create_endpoint_app(local: LocalEndpoint,
                        monitor: Callable[[float], dict] | None = None,
                        monitor_every: float | None = None,
                        max_request_bytes: int = MAX_REQUEST_BYTES) -> PredictPath:
    """The endpoint's ASGI app. ``monitor(window_seconds)`` checks skew and drift of what it
    served (``POST :monitor``), and every ``monitor_every`` seconds when given;
    ``:predict`` bodies over ``max_request_bytes`` are refused with 413."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        if monitor is not None and monitor_every:
            def every() -> None:
                while not stop.wait(monitor_every):
                    try:
                        result = monitor(monitor_every)
                        for alert in result["alerts"]:
                            print(f"monitoring alert: {alert['feature']} {alert['kind']} "
                                  f"{alert['distance']:.4g} > {alert['threshold']:g}",
                                  flush=True)
                    except Exception as err:  # a failed check never stops serving
                        print(f"monitoring check failed: {err}", flush=True)

            threading.Thread(target=every, daemon=True, name="monitoring").start()
        yield
        stop.set()
        local.close()  # the request log's last rows

    app = FastAPI(title="fullcycle local endpoint", docs_url=None, redoc_url=None,
                  lifespan=lifespan)

    @app.exception_handler(EndpointError)
    async def refuse(_request: Request, err: EndpointError) -> Response:
        return Response(_error_body(err.status, str(err)), status_code=err.status,
                        media_type="application/json")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    if monitor is not None:
        @app.post(BASE + ":monitor")  # not a Vertex method: the twin of a monitoring run
        def run_monitor(windowSeconds: float = 3600.0) -> dict:  # noqa: N803
            return monitor(windowSeconds)

    @app.get(BASE + ":metrics")  # before GET BASE, whose {endpoint} would swallow ":metrics"
    def metrics(deployedModelId: str, since: float, until: float) -> dict:  # noqa: N803
        return asdict(local.window_metrics(deployedModelId, since, until))

    @app.get(BASE)
    def describe(project: str, location: str, endpoint: str) -> dict:  # noqa: ARG001
        return local.describe()

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

    return PredictPath(app, local, max_request_bytes)
