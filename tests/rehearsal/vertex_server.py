"""A local Vertex AI over HTTP: the in-process fakes of ``tests/support`` on a loopback port.

The Model and Endpoint services (uploads, versions, deploys, traffic splits, long-running
operations answered done) are :class:`~tests.support.google_fakes.FakeRegistry`;
Resource Manager's project lookup, which the aiplatform SDK makes first, is answered
as ``tests/support/google_http.py`` answers it. Requests arrive through a
:class:`~tests.rehearsal.gateway.Gateway` front, which passes the host the client
called in ``X-Original-Host``. A request the fake refuses (an ``AssertionError``: a
call Vertex AI would reject or the fake does not know) is answered 500 with the reason,
and kept in :attr:`VertexServer.refused` for the rehearsal's summary. Batch prediction
jobs go to :attr:`VertexServer.batch` once the rehearsal sets it (``batch_jobs.py``:
they run on the emulators).
"""

from __future__ import annotations

import http.server
import json
import threading

import requests

from tests.rehearsal.gateway import _read_body, _Server
from tests.support.google_fakes import FakeRegistry
from tests.support.google_http import _send


class VertexServer:
    """Serves a :class:`FakeRegistry` (one endpoint named ``endpoint``) on a free port."""

    def __init__(self, endpoint: str):
        self.registry = FakeRegistry(endpoint_display_name=endpoint)
        self.batch = None  # answers batchPredictionJobs calls (an ExecutingBatchPrediction)
        self.refused: list[str] = []
        lock = self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                body = _read_body(self)
                host = self.headers.get("X-Original-Host", "")
                request = requests.Request(
                    self.command, f"https://{host}{self.path}", data=body or None,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() not in ("host", "content-length")}).prepare()
                try:
                    batch = server.batch is not None and "/batchPredictionJobs" in self.path
                    with lock:
                        response = _send(server.batch if batch else server.registry, request)
                    status, data = response.status_code, response.content
                    content_type = response.headers.get("Content-Type", "application/json")
                except AssertionError as err:
                    server.refused.append(f"{self.command} {host}{self.path}: {err}")
                    status, content_type = 500, "application/json"
                    data = json.dumps({"error": {"code": 500, "status": "INTERNAL",
                                                 "message": f"rehearsal Vertex AI: {err}"}}
                                      ).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.address = ("127.0.0.1", self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def deployed(self) -> dict:
        """The endpoint as Vertex AI would describe it, and the registry's model versions."""
        with self._lock:
            endpoint = self.registry.endpoint
            return {"endpoint": endpoint["displayName"],
                    "deployed_models": [{"id": d["id"], "model": d["model"]}
                                        for d in endpoint["deployedModels"]],
                    "traffic_split": dict(endpoint["trafficSplit"]),
                    "models": {i: {"displayName": m["displayName"],
                                   "versions": dict(m["artifacts"])}
                               for i, m in self.registry.models.items()}}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
