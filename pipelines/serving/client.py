"""A client for an endpoint served over HTTP (`fullcycle serve-endpoint`), for the canary."""

from __future__ import annotations

import httpx

from pipelines.serving.endpoint import EndpointError, WindowMetrics


class HttpEndpoint:
    """The Vertex-shaped REST API of a local endpoint, as :class:`EndpointOps`."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def _call(self, method: str, suffix: str = "", **kwargs) -> dict:
        try:
            response = self._http.request(method, self.url + suffix, **kwargs)
        except httpx.TransportError as err:
            raise EndpointError(f"endpoint {self.url} is not reachable ({err}); start it with "
                                "`fullcycle serve-endpoint MODEL`", 503) from None
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise EndpointError(f"endpoint {self.url}: {message}", response.status_code)
        return response.json()

    def describe(self) -> dict:
        return self._call("GET")

    def deploy(self, model: str, split: dict[str, int]) -> str:
        body = {"deployedModel": {"model": model}, "trafficSplit": split}
        return self._call("POST", ":deployModel", json=body)["deployedModel"]["id"]

    def set_split(self, split: dict[str, int]) -> None:
        self._call("PATCH", json={"trafficSplit": split})

    def undeploy(self, deployed_id: str) -> None:
        self._call("POST", ":undeployModel", json={"deployedModelId": deployed_id})

    def predict(self, instances: list[dict]) -> dict:
        return self._call("POST", ":predict", json={"instances": instances})

    def feedback(self, request_id: str, labels: list) -> None:
        self._call("POST", ":feedback", json={"requestId": request_id, "labels": labels})

    def window_metrics(self, deployed_id: str, since: float, until: float) -> WindowMetrics:
        data = self._call("GET", ":metrics", params={"deployedModelId": deployed_id,
                                                     "since": since, "until": until})
        return WindowMetrics(**data)

    def monitor(self, window_seconds: float) -> dict:
        """Runs the endpoint's skew and drift check over the last ``window_seconds``."""
        return self._call("POST", ":monitor", params={"windowSeconds": window_seconds})

    def close(self) -> None:
        self._http.close()
