"""The canary controller on the local endpoint, under a live concurrent load."""

import math
import time

import httpx
import pytest

from pipelines.canary.controller import CanaryController
from pipelines.canary.policy import CanaryPolicy
from pipelines.serving.endpoint import LocalEndpoint
from pipelines.serving.endpoint_app import create_endpoint_app
from pipelines.serving.rollout import FileRolloutStore
from pipelines.serving.traffic import Traffic
from pipelines.stack.config import CanarySettings
from pipelines.stack.names import local_endpoint_path
from tests.support.models import constant_model
from tests.support.servers import serve

POLICY = CanaryPolicy(CanarySettings(steps=(10, 25, 50, 100), min_samples=3, failure_threshold=2,
                                     max_error_rate=0.01), interval_seconds=0.3)
PATH = local_endpoint_path("basic")
BURST = 150  # requests before each tick: at 10 %, fewer than 3 reach the candidate ~1e-4 of times


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary-versions")
    return {"stable": constant_model(root / "1", 1.0), "same": constant_model(root / "2", 1.02),
            "nan": constant_model(root / "3", math.nan), "far": constant_model(root / "4", 9.0)}


def live_load(url: str) -> Traffic:
    """Concurrent clients predicting until stopped; counts failures."""
    return Traffic(url, [({"x": 1.0}, None)], rate=1000, clients=4, feedback=False)


@pytest.fixture
def setup(tmp_path, versions):
    endpoint = LocalEndpoint(tmp_path / "endpoint", seed=3)
    stable = endpoint.deploy(versions["stable"], {"0": 100})
    url, server = serve(create_endpoint_app(endpoint))
    yield url + PATH, endpoint, stable, FileRolloutStore(tmp_path / "rollout.json")
    server.should_exit = True


def run_ticks(controller, count, url=None):
    """Each analysis window gets a burst of requests (none without ``url``), then a tick."""
    for _ in range(count):
        started = time.monotonic()
        if url:
            with httpx.Client(timeout=30) as http:
                for _ in range(BURST):
                    assert http.post(f"{url}:predict",
                                     json={"instances": [{"x": 1.0}]}).status_code == 200
        time.sleep(max(0.0, POLICY.interval_seconds + 0.02 - (time.monotonic() - started)))
        controller.tick()
        if controller.rollout.status != "progressing":
            break


def test_good_candidate_is_promoted_through_every_step(setup, versions):
    url, endpoint, stable, state = setup
    controller = CanaryController(endpoint, POLICY, state)
    with live_load(url) as load:
        controller.start(versions["same"])
        run_ticks(controller, 6, url)
        rollout = controller.rollout
    assert rollout.status == "promoted", rollout
    assert [h["weight"] for h in rollout.history] == [10, 25, 50]
    assert all(h["result"] == "pass" for h in rollout.history)
    assert endpoint.describe()["trafficSplit"] == {rollout.candidate_id: 100}
    assert stable not in endpoint.state.deployed
    assert load.failures == [] and load.ok > 0


def test_nan_candidate_is_rolled_back_with_zero_failed_requests(setup, versions):
    url, endpoint, stable, state = setup
    controller = CanaryController(endpoint, POLICY, state)
    with live_load(url) as load:
        controller.start(versions["nan"])
        run_ticks(controller, 6, url)
        rollout = controller.rollout
    assert rollout.status == "aborted" and "error rate" in rollout.reason
    assert endpoint.describe()["trafficSplit"] == {stable: 100}
    assert rollout.candidate_id not in endpoint.state.deployed
    assert load.failures == []


def test_shifted_predictions_are_rolled_back(setup, versions):
    url, endpoint, stable, state = setup
    controller = CanaryController(endpoint, POLICY, state)
    with live_load(url):
        controller.start(versions["far"])
        run_ticks(controller, 6, url)
        rollout = controller.rollout
    assert rollout.status == "aborted" and "prediction shift" in rollout.reason


def test_too_few_samples_never_promote(setup, versions):
    _, endpoint, stable, state = setup
    controller = CanaryController(endpoint, POLICY, state)
    controller.start(versions["same"])
    run_ticks(controller, 6)  # no traffic at all
    rollout = controller.rollout
    assert rollout.status == "aborted" and "too few samples" in rollout.reason
    assert endpoint.describe()["trafficSplit"] == {stable: 100}


def test_killed_controller_resumes_and_repeated_ticks_do_not_skip(setup, versions):
    url, endpoint, _, state = setup
    with live_load(url):
        first = CanaryController(endpoint, POLICY, state)
        first.start(versions["same"])
        run_ticks(first, 1, url)
        assert first.rollout.step == 1
        del first  # killed: only the saved state survives
        resumed = CanaryController(endpoint, POLICY, state)
        assert resumed.rollout.step == 1 and resumed.rollout.status == "progressing"
        assert resumed.start(versions["same"]).candidate_id == resumed.rollout.candidate_id
        last = resumed.rollout.last_tick
        early = last + 0.5 * POLICY.interval_seconds  # well within the interval
        resumed.tick(now=early)
        resumed.tick(now=early)  # repeated at once: nothing moves
        assert resumed.rollout.step == 1 and resumed.rollout.last_tick == last
        run_ticks(resumed, 6, url)
    assert resumed.rollout.status == "promoted"
