"""Rollouts as a user runs them: a push deploys next to the stable model, a controller over
the endpoint's HTTP API adopts it (CLI or runner route), live traffic feeds labels back."""

import time

import httpx
import pytest

from pipelines.canary.policy import CanaryPolicy
from pipelines.serving.endpoint import LocalEndpoint
from pipelines.serving.endpoint_app import create_endpoint_app
from pipelines.serving.rollout import (
    controller_for,
    deploy_pushed,
    endpoint_client,
    register_server,
    unregister_server,
)
from pipelines.serving.traffic import Traffic, eval_examples
from pipelines.stack.config import CanarySettings
from pipelines.stack.names import local_endpoint_path
from tests.support.models import constant_model
from tests.support.servers import serve

MODEL = "basic_template"
# At 25 %, even a loaded machine's ~100 requests per window give the candidate ~25 (>= 3).
SETTINGS = CanarySettings(steps=(25, 50, 100), min_samples=3, failure_threshold=2)
POLICY = CanaryPolicy(SETTINGS, interval_seconds=1.0)
EXAMPLES = [({"x": 1.0}, 1.0)]  # every label is 1.0: the stable model is exact


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("pushed")
    return {"stable": constant_model(root / "1", 1.0), "good": constant_model(root / "2", 1.01),
            "worse": constant_model(root / "3", 1.4), "third": constant_model(root / "4", 1.0)}


@pytest.fixture
def served(workspace):
    """Starts the model's endpoint from its saved state, as `fullcycle serve-endpoint` does."""
    servers = []

    def start():
        root = workspace.endpoint_dir(MODEL)
        url, server = serve(create_endpoint_app(LocalEndpoint(root, seed=5)))
        register_server(root, url)
        servers.append((root, server))
        return url + local_endpoint_path(MODEL)

    yield start
    for root, server in servers:
        unregister_server(root)
        server.should_exit = True


def test_push_deploys_like_the_vertex_pusher(workspace, versions, served):
    first = deploy_pushed(workspace, MODEL, versions["stable"], 10)  # no server: saved state
    assert "100 %" in first
    url = served()
    assert "10 %" in deploy_pushed(workspace, MODEL, versions["good"], 10)  # through the server
    split = httpx.get(url).json()["trafficSplit"]
    assert sorted(split.values()) == [10, 90]
    assert "already deployed" in deploy_pushed(workspace, MODEL, versions["good"], 10)
    assert "rollout is under way" in deploy_pushed(workspace, MODEL, versions["third"], 10)
    assert httpx.get(url).json()["trafficSplit"] == split  # nothing changed


def test_not_served_endpoint_is_a_clear_error(workspace):
    with pytest.raises(Exception, match="serve-endpoint basic_template"):
        endpoint_client(workspace, MODEL)


def tick_until_done(controller, url, ticks=8):
    with Traffic(url, EXAMPLES, rate=300, clients=3) as traffic:
        for _ in range(ticks):
            time.sleep(POLICY.interval_seconds + 0.05)
            rollout = controller.tick()
            if rollout.status != "progressing":
                break
    return rollout, traffic


def test_worse_labelled_metric_is_rolled_back(workspace, versions, served):
    deploy_pushed(workspace, MODEL, versions["stable"], 10)
    url = served()
    deploy_pushed(workspace, MODEL, versions["worse"], 10)
    # Only the labelled metric may fail it: the shift check is off.
    policy = CanaryPolicy(SETTINGS.model_copy(update={"max_prediction_shift": 1e9,
                                                      "max_mse_increase": 0.05}), 1.0)
    controller = controller_for(workspace, MODEL, policy)
    adopted = controller.tick()
    assert adopted.status == "progressing" and adopted.step == 0
    # deployed at 10 %, which is not one of this policy's steps: moved to its first one
    assert httpx.get(url).json()["trafficSplit"] == {adopted.candidate_id: 25,
                                                     adopted.stable_id: 75}
    rollout, traffic = tick_until_done(controller, url)
    assert rollout.status == "aborted" and "labelled mse 0.16" in rollout.reason, rollout
    described = httpx.get(url).json()
    assert described["trafficSplit"] == {rollout.stable_id: 100}
    assert [m["model"] for m in described["deployedModels"]] == [versions["stable"]]
    assert traffic.failures == [] and traffic.ok > 0


def test_runner_route_ticks_a_rollout_to_promotion(workspace, versions, served, tmp_path):
    from pipelines.runner.app import create_app
    from pipelines.runner.backends import LocalBackend
    from pipelines.runner.store import RunStore

    runner, server = serve(create_app(LocalBackend(RunStore(tmp_path / "runs.sqlite")),
                                      lambda model: controller_for(workspace, model, POLICY)))
    try:
        down = httpx.post(f"{runner}/rollouts/{MODEL}:tick")
        assert down.status_code == 503 and "serve-endpoint" in down.json()["error"]
        assert httpx.post(f"{runner}/rollouts/basic_templat:tick").status_code == 404
        deploy_pushed(workspace, MODEL, versions["stable"], 10)
        url = served()
        assert httpx.post(f"{runner}/rollouts/{MODEL}:tick").json()["status"] == "idle"
        deploy_pushed(workspace, MODEL, versions["good"], 10)
        states = []
        with Traffic(url, EXAMPLES, rate=300, clients=3) as traffic:
            for _ in range(8):
                states.append(httpx.post(f"{runner}/rollouts/{MODEL}:tick", timeout=30).json())
                if states[-1]["status"] != "progressing":
                    break
                time.sleep(POLICY.interval_seconds + 0.05)
        final = states[-1]
        assert final["status"] == "promoted", states
        assert [h["weight"] for h in final["history"]] == [25, 50]
        assert httpx.get(url).json()["trafficSplit"] == {final["candidate_id"]: 100}
        assert traffic.failures == []
    finally:
        server.should_exit = True


def test_live_traffic_uses_labelled_eval_rows(workspace):
    from pipelines.config.registry import load_config

    examples = eval_examples(load_config(MODEL), workspace, limit=50)
    assert len(examples) == 50
    instance, label = examples[0]
    assert "label" not in instance and isinstance(label, float)
    assert {"numeric_feature1", "categorical_feature"} <= set(instance)


def test_predict_through_the_served_endpoint(workspace, versions, served, tmp_path):
    import json

    from typer.testing import CliRunner

    from pipelines.cli.main import app

    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps([{"x": 3.0}, {"x": 4.0}]))
    args = ["predict", MODEL, "--instances", str(instances), "--endpoint"]
    down = CliRunner().invoke(app, args)
    assert down.exit_code == 2 and "serve-endpoint basic_template" in down.output
    deploy_pushed(workspace, MODEL, versions["stable"], 10)
    served()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["predictions"] == [1.0, 1.0] and answer["deployedModelId"]
