"""``FullcycleRunnerHook``: the runner's HTTP API (``POST /runs``, ``GET /runs/{id}``,
``GET /runs?model=``) from a ``fullcycle_runner`` connection.

Requests that fail in transit or answer 429/502/503/504 are retried with the same
``Idempotency-Key``, so a POST whose first attempt did reach the runner does not
start a second run (on a runner that honours the header).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from fullcycle_provider.auth import IdTokenError, RunnerSettings, auth_headers
from fullcycle_provider.compat import AirflowException, BaseHook, aget_connection

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRY = object()  # an attempt's outcome: try again


class RunnerError(AirflowException):
    """The runner refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _answer(response: httpx.Response, what: str) -> Any:
    """The JSON body of a 2xx ``response``; otherwise a RunnerError naming ``what`` and why."""
    if response.is_success:
        return response.json()
    try:
        reason = response.json().get("error") or response.text
    except ValueError:
        reason = response.text
    hint = ""
    if response.status_code in (401, 403):
        hint = (" (on Cloud Run: set the connection's extra auth to 'google_id_token' and give "
                "the identity Airflow runs as roles/run.invoker on the runner)")
    raise RunnerError(f"{what}: HTTP {response.status_code}: {reason}{hint}",
                      status=response.status_code)


class FullcycleRunnerHook(BaseHook):
    """Talks to a fullcycle runner (``fullcycle serve-runner`` locally, Cloud Run in GCP).

    Args:
        fullcycle_conn_id: a connection of type ``fullcycle_runner``: host = the runner's URL;
            extras ``auth`` (``none`` | ``google_id_token``), optional ``audience`` (default:
            the URL) and ``impersonation_chain``.
        request_timeout: seconds for one HTTP request.
        retries: further attempts after a request fails in transit or answers 429/5xx.
    """

    conn_name_attr = "fullcycle_conn_id"
    default_conn_name = "fullcycle_default"
    conn_type = "fullcycle_runner"
    hook_name = "fullcycle runner"
    RETRIES, RETRY_DELAY = 3, 2.0  # seconds before the first retry; doubled each time

    def __init__(self, fullcycle_conn_id: str = default_conn_name, request_timeout: float = 60.0,
                 retries: int | None = None, retry_delay: float | None = None):
        super().__init__()
        self.fullcycle_conn_id, self.request_timeout = fullcycle_conn_id, request_timeout
        self.retries = self.RETRIES if retries is None else retries
        self.retry_delay = self.RETRY_DELAY if retry_delay is None else retry_delay

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """How the connection form looks: only the URL and the extras matter."""
        return {
            "hidden_fields": ["schema", "login", "password", "port"],
            "relabeling": {"host": "Runner URL"},
            "placeholders": {
                "host": "https://fullcycle-runner-xxxx.a.run.app",
                "extra": '{"auth": "google_id_token", "impersonation_chain": '
                         '"airflow-invoker@PROJECT.iam.gserviceaccount.com"}',
            },
        }

    def settings(self) -> RunnerSettings:
        """The connection's settings, validated."""
        return RunnerSettings.from_connection(self.get_connection(self.fullcycle_conn_id))

    async def asettings(self) -> RunnerSettings:
        """The connection's settings, read without blocking the event loop."""
        return RunnerSettings.from_connection(await aget_connection(self.fullcycle_conn_id))

    def get_conn(self) -> RunnerSettings:
        return self.settings()

    def _settle(self, what: str, url: str, attempt: int, response: httpx.Response | None = None,
                error: Exception | None = None) -> Any:
        """One attempt's outcome: the answer, a RunnerError, or ``_RETRY`` (logged why)."""
        last = attempt == self.retries
        if isinstance(error, IdTokenError):
            raise RunnerError(f"{what}: {error}") from error
        if error is not None:
            if last:
                raise RunnerError(f"{what}: the runner at {url} cannot be reached: "
                                  f"{type(error).__name__}: {error}") from error
            self.log.warning("%s: %s; retrying", what, error)
            return _RETRY
        if response.status_code not in RETRY_STATUSES or last:
            return _answer(response, what)
        self.log.warning("%s: HTTP %s; retrying", what, response.status_code)
        return _RETRY

    def _request(self, method: str, path: str, what: str, **kwargs) -> Any:
        settings = self.settings()
        headers = dict(kwargs.pop("headers", {}))
        for attempt in range(self.retries + 1):
            try:
                with httpx.Client(timeout=self.request_timeout) as client:
                    response = client.request(method, settings.url + path,
                                              headers={**headers, **auth_headers(settings)},
                                              **kwargs)
            except (IdTokenError, httpx.TransportError) as err:
                outcome = self._settle(what, settings.url, attempt, error=err)
            else:
                outcome = self._settle(what, settings.url, attempt, response=response)
            if outcome is not _RETRY:
                return outcome
            time.sleep(self.retry_delay * 2 ** attempt)
        raise AssertionError("unreachable")

    def trigger_run(self, model: str, idempotency_key: str,
                    overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST /runs``: starts a run of ``model`` (or, for a key the runner has seen, answers
        that run). Returns the runner's answer: ``run_id``, ``state``, ``duplicate``, ``link``."""
        body: dict[str, Any] = {"model": model}
        if overrides:
            body["overrides"] = overrides
        return self._request("POST", "/runs", f"starting a run of {model!r}", json=body,
                             headers={IDEMPOTENCY_HEADER: idempotency_key})

    def get_run(self, run_id: str) -> dict[str, Any]:
        """``GET /runs/{id}``: the run's state, timings, link and detail."""
        return self._request("GET", f"/runs/{run_id}", f"reading run {run_id!r}")

    def list_runs(self, model: str | None = None) -> list[dict[str, Any]]:
        """``GET /runs?model=``: the recent runs (of ``model``), newest first."""
        params = {"model": model} if model else None
        return self._request("GET", "/runs", "listing runs", params=params)["runs"]

    def report_url(self, run_id: str) -> str:
        """The runner's page for the run's report (``GET /runs/{id}/report``)."""
        return f"{self.settings().url}/runs/{run_id}/report"

    async def aget_run(self, run_id: str) -> dict[str, Any]:
        """``GET /runs/{id}`` from async code (the trigger); a fresh token per attempt."""
        settings = await self.asettings()
        what = f"reading run {run_id!r}"
        for attempt in range(self.retries + 1):
            try:
                headers = await asyncio.to_thread(auth_headers, settings)
                async with httpx.AsyncClient(timeout=self.request_timeout) as client:
                    response = await client.get(f"{settings.url}/runs/{run_id}", headers=headers)
            except (IdTokenError, httpx.TransportError) as err:
                outcome = self._settle(what, settings.url, attempt, error=err)
            else:
                outcome = self._settle(what, settings.url, attempt, response=response)
            if outcome is not _RETRY:
                return outcome
            await asyncio.sleep(self.retry_delay * 2 ** attempt)
        raise AssertionError("unreachable")
