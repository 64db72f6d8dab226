"""The local endpoint twin over HTTP: traffic splits as Vertex checks them, a request log,
and no failed request while versions are deployed, shifted and undeployed under load."""

import threading
import time
from collections import Counter

import httpx
import pytest

from pipelines.serving.endpoint import LocalEndpoint
from pipelines.serving.endpoint_app import create_endpoint_app
from tests.support.models import constant_model
from tests.support.servers import serve

PATH = "/v1/projects/local/locations/local/endpoints/basic"



@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("versions")
    return constant_model(root / "1", 1.0), constant_model(root / "2", 2.0)


@pytest.fixture
def endpoint(tmp_path, models):
    local = LocalEndpoint(tmp_path / "endpoint", seed=7)
    url, server = serve(create_endpoint_app(local))
    yield url + PATH, local
    server.should_exit = True


def predict(url, n=1):
    return httpx.post(f"{url}:predict", json={"instances": [{"x": 0.5}] * n}, timeout=30)


def test_deploy_predict_and_log(endpoint, models):
    url, local = endpoint
    deployed = httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[0]},
                                                      "trafficSplit": {"0": 100}}).json()
    v1 = deployed["deployedModel"]["id"]
    response = predict(url, 3).json()
    assert response["predictions"] == [1.0, 1.0, 1.0] and response["deployedModelId"] == v1
    (row,) = local.log.query("SELECT deployed_model_id, latency_ms, error FROM requests")
    assert row[0] == v1 and row[1] > 0 and row[2] is None
    assert httpx.post(f"{url}:feedback", json={"requestId": response["requestId"],
                                               "labels": [1.2, 0.9, 1.0]}).status_code == 200
    assert local.log.query("SELECT count(*) FROM feedback") == [(1,)]
    unknown = httpx.post(f"{url}:feedback", json={"requestId": "nope", "labels": [1]})
    assert unknown.status_code == 404


def test_request_log_drops_requests_past_retention(tmp_path):
    from pipelines.serving.endpoint import RequestLog

    log = RequestLog(tmp_path / "requests.duckdb", retention_days=30)
    old, recent = (log.record("7", [{"x": 1}], [[0.5]], 1.0, None) for _ in range(2))
    log.feedback(old, [0.4])
    log.feedback(recent, [0.6])
    log.query("UPDATE requests SET ts = ts - 31 * 86400 WHERE request_id = ?", [old])
    assert log.prune() == 1
    assert log.query("SELECT request_id FROM requests") == [(recent,)]
    assert log.query("SELECT request_id FROM feedback") == [(recent,)]
    log.close()
    kept = RequestLog(tmp_path / "requests.duckdb", retention_days=None)
    assert kept.prune(now=time.time() + 10**9) == 0 and len(kept.query(
        "SELECT * FROM requests")) == 1
    kept.close()


def test_canary_split_routes_by_weight_and_persists(endpoint, models, tmp_path):
    url, local = endpoint
    v1 = local.deploy(models[0], {"0": 100})
    v2 = httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[1]},
                                                "trafficSplit": {"0": 25, v1: 75}}
                    ).json()["deployedModel"]["id"]
    served = Counter(predict(url).json()["deployedModelId"] for _ in range(400))
    assert abs(served[v2] / 400 - 0.25) < 0.08, served
    assert httpx.get(url).json()["trafficSplit"] == {v2: 25, v1: 75}
    again = LocalEndpoint(tmp_path / "endpoint")  # a restarted server keeps the deployment
    assert again.describe() == local.describe()


@pytest.mark.parametrize("split, message", [
    ({"0": 50}, "sums to 50, not 100"),
    ({"0": 50, "42": 50}, "names undeployed model(s) ['42']"),
    ({"0": 100.0}, "must map ids to integers"),
])
def test_invalid_traffic_splits_are_refused(endpoint, models, split, message):
    url, local = endpoint
    before = local.describe()
    response = httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[0]},
                                                      "trafficSplit": split})
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    assert local.describe() == before


def test_model_with_traffic_cannot_be_undeployed_and_bad_paths_change_nothing(endpoint, models):
    url, local = endpoint
    v1 = local.deploy(models[0], {"0": 100})
    refused = httpx.post(f"{url}:undeployModel", json={"deployedModelId": v1})
    assert refused.status_code == 400 and "still takes 100% of traffic" in refused.text
    missing = httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": "/nope"},
                                                     "trafficSplit": {"0": 100}})
    assert missing.status_code == 404 and list(local.state.deployed) == [v1]
    assert predict(url).status_code == 200


def test_no_failed_request_while_promoting_under_load(endpoint, models):
    url, local = endpoint
    v1 = local.deploy(models[0], {"0": 100})
    failures, served, stop = [], Counter(), threading.Event()

    def client():
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                response = http.post(f"{url}:predict", json={"instances": [{"x": 1.0}]})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    served[response.json()["predictions"][0]] += 1

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()

    def flow(requests: int = 30) -> None:  # let traffic pass at every stage
        target = sum(served.values()) + requests
        while sum(served.values()) < target and not failures:
            time.sleep(0.005)

    flow()
    v2 = local.deploy(models[1], {"0": 10, v1: 90})
    flow()
    for weight in (25, 50, 100):
        local.set_split({v2: weight, v1: 100 - weight} if weight < 100 else {v2: 100})
        flow()
    local.undeploy(v1)
    flow()
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert served[1.0] > 0 and served[2.0] > 0
    assert local.describe()["trafficSplit"] == {v2: 100}


def test_the_endpoint_runs_its_monitoring_check_on_demand_and_every_interval(tmp_path):
    from fastapi.testclient import TestClient

    windows = []

    def monitor(window_seconds: float) -> dict:
        windows.append(window_seconds)
        return {"status": "ok", "alerts": [], "window": window_seconds}

    local = LocalEndpoint(tmp_path / "endpoint")
    app = create_endpoint_app(local, monitor, monitor_every=0.2)
    with TestClient(app) as client:  # the lifespan starts the periodic check
        deadline = time.monotonic() + 10
        while len(windows) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert windows[:2] == [0.2, 0.2]  # every interval, over that window
        answer = client.post("/v1/projects/local/locations/local/endpoints/m:monitor",
                             params={"windowSeconds": 3600})
        assert answer.json() == {"status": "ok", "alerts": [], "window": 3600.0}


def test_a_custom_method_called_with_the_wrong_http_method_is_405(endpoint, models):
    url, _ = endpoint
    httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[0]}})
    wrong = httpx.get(f"{url}:predict")  # used to describe the endpoint, with 200
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["message"] == "method GET is not allowed on :predict; use POST"
    assert httpx.put(f"{url}:predict", json={"instances": [{"x": 0.5}]}).status_code == 405
    assert httpx.patch(f"{url}:predict", json={"trafficSplit": {}}).status_code == 405
    assert httpx.get(f"{url}:deployModel").status_code == 405
    unknown = httpx.get(f"{url}:predictt")
    assert unknown.status_code == 404
    assert 'unknown endpoint method \':predictt\' (did you mean ":predict"?)' \
        in unknown.json()["error"]["message"]
    assert httpx.get(url).status_code == 200 and predict(url).status_code == 200


def test_a_predict_body_over_the_vertex_limit_is_413_naming_the_limit(endpoint, models, tmp_path):
    url, local = endpoint
    httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[0]}})
    body = b'{"instances": [' + b",".join([b'{"x": 0.5}'] * 190_000) + b"]}"
    assert 2_000_000 < len(body) < 2_200_000  # 2 MB
    refused = httpx.post(f"{url}:predict", content=body, timeout=30)
    assert refused.status_code == 413
    assert refused.json()["error"]["message"].startswith(
        f"request body is too large: {len(body)} bytes, over the limit of 1500000 bytes")
    assert local.log.query("SELECT count(*) FROM requests") == [(0,)]
    # Without a Content-Length (chunked), reading stops at the limit.
    chunked = httpx.post(f"{url}:predict", content=iter([body[:1_000_000], body[1_000_000:]]),
                         timeout=30)
    assert chunked.status_code == 413 and "limit of 1500000 bytes" in chunked.text
    assert predict(url, 1000).status_code == 200  # 12 kB: well inside


def test_the_request_limit_is_configurable(tmp_path, models):
    local = LocalEndpoint(tmp_path / "endpoint", seed=7)
    url, server = serve(create_endpoint_app(local, max_request_bytes=1000))
    try:
        url += PATH
        httpx.post(f"{url}:deployModel", json={"deployedModel": {"model": models[0]}})
        assert predict(url, 10).status_code == 200
        refused = predict(url, 200)
        assert refused.status_code == 413 and "over the limit of 1000 bytes" in refused.text
    finally:
        server.should_exit = True
    with pytest.raises(ValueError, match="max_request_bytes 0 must be at least 1"):
        create_endpoint_app(local, max_request_bytes=0)
