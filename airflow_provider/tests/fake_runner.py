"""A small fake fullcycle runner for the unit tests: the runner's routes over real HTTP.

Each run walks through a scripted list of states, one step per ``GET /runs/{id}``.
``honour_keys`` makes ``POST /runs`` answer the run it already has for an
``Idempotency-Key`` (as the runner does once it honours the header).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeRunner:
    """Serves ``POST /runs``, ``GET /runs/{id}`` and ``GET /runs?model=`` on 127.0.0.1."""

    def __init__(self, states=("QUEUED", "RUNNING", "SUCCEEDED"), error: str | None = None,
                 honour_keys: bool = False, token: str | None = None):
        self.states, self.error, self.honour_keys, self.token = list(states), error, \
            honour_keys, token
        self.runs: dict[str, dict] = {}
        self.steps: dict[str, deque] = {}
        self.keys: dict[str, str] = {}
        self.requests: list[dict] = []
        self.fail_next: deque[int] = deque()  # statuses answered before serving normally
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def set_state(self, run_id: str, state: str) -> None:
        with self._lock:
            self.runs[run_id]["state"] = state
            self.steps[run_id] = deque()

    def _create(self, body: dict, key: str | None) -> tuple[dict, bool]:
        with self._lock:
            if self.honour_keys and key in self.keys:
                return self.runs[self.keys[key]], True
            run_id = uuid.uuid4().hex[:12]
            steps = deque(self.states)
            self.runs[run_id] = {"run_id": run_id, "model": body["model"], "state": steps.popleft(),
                                 "link": None, "detail": None}
            self.steps[run_id] = steps
            if key:
                self.keys[key] = run_id
            return self.runs[run_id], False

    def _advance(self, run_id: str) -> dict:
        with self._lock:
            run, steps = self.runs[run_id], self.steps[run_id]
            if steps:
                run["state"] = steps.popleft()
                if not steps:
                    run["link"] = f"file:///serving/{run['model']}/1"
                    run["detail"] = {"error": self.error}
            return dict(run)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body=None) -> bool:
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                if fake.fail_next:
                    self._send(fake.fail_next.popleft(), {"error": "injected failure"})
                    return False
                if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"error": "no valid token"})
                    return False
                return True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if not self._record(body):
                    return
                if urlparse(self.path).path != "/runs":
                    return self._send(404, {"error": f"no route {self.path}"})
                run, duplicate = fake._create(body, self.headers.get("Idempotency-Key"))
                self._send(202, {"run_id": run["run_id"], "model": run["model"],
                                 "state": run["state"], "duplicate": duplicate,
                                 "link": run["link"]})

            def do_GET(self) -> None:
                if not self._record():
                    return
                url = urlparse(self.path)
                if url.path == "/runs":
                    model = parse_qs(url.query).get("model", [None])[0]
                    return self._send(200, {"runs": [r for r in fake.runs.values()
                                                     if model in (None, r["model"])]})
                run_id = url.path.removeprefix("/runs/")
                if run_id not in fake.runs:
                    return self._send(404, {"error": f"unknown run {run_id!r}"})
                self._send(200, fake._advance(run_id))

        return Handler
