"""Deployment to Vertex AI through the real google-cloud-aiplatform client.

Only the HTTP transport is replaced: a fake Model Registry and endpoint answer
at the ``requests`` adapter and check each request as Vertex AI would (known
parent model, gs:// artifacts, a serving image, traffic splits of integers
summing to 100 naming deployed models or "0" for the new one).
"""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from google.auth.credentials import AnonymousCredentials

from pipelines.cloud.deploy import deploy_version
from pipelines.cloud.vertex import CloudTarget
from pipelines.config.errors import FullcycleError
from tests.google_http import intercepted, json_response

PROJECT, REGION = "fullcycle-dev", "europe-west4"
PARENT = f"projects/{PROJECT}/locations/{REGION}"


class FakeRegistry:
    """Models with versions, one endpoint with deployed models and a traffic split."""

    def __init__(self, endpoint_display_name="fc-basic-template"):
        self.models: dict[str, dict] = {}  # id -> {"displayName", "versions": [...]}
        self.endpoint = {"name": f"{PARENT}/endpoints/7001", "displayName": endpoint_display_name,
                         "deployedModels": [], "trafficSplit": {}}
        self.calls: list[tuple[str, str, dict | None]] = []
        self._ids = iter(range(100, 1000))

    def _model_json(self, model_id: str, version: str | None = None) -> dict:
        model = self.models[model_id]
        version = version or model["default"]
        return {"name": f"{PARENT}/models/{model_id}", "displayName": model["displayName"],
                "versionId": version, "versionAliases": model["aliases"][version],
                "artifactUri": model["artifacts"][version], "labels": model["labels"],
                # what Vertex reports for a model with a serving container
                "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"]}

    def _done(self, request, kind: str, response: dict):
        return json_response(request, 200, {
            "name": f"{PARENT}/operations/{next(self._ids)}", "done": True,
            "response": {"@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{kind}",
                         **response}})

    def send(self, adapter, request, **kwargs):
        url = urlparse(request.url)
        assert url.netloc == f"{REGION}-aiplatform.googleapis.com", request.url
        path = url.path.removeprefix(f"/v1/{PARENT}/")
        body = json.loads(request.body) if request.body else None
        self.calls.append((request.method, path, body))
        query = parse_qs(url.query)
        if request.method == "GET" and path == "endpoints":
            wanted = re.fullmatch(r'display_name="(.*)"', query["filter"][0]).group(1)
            found = [self.endpoint] if wanted == self.endpoint["displayName"] else []
            return json_response(request, 200, {"endpoints": found})
        if request.method == "GET" and path == "endpoints/7001":
            return json_response(request, 200, self.endpoint)
        if request.method == "GET" and path == "models":
            wanted = re.fullmatch(r'display_name="(.*)"', query["filter"][0]).group(1)
            return json_response(request, 200, {"models": [
                self._model_json(i) for i, m in self.models.items()
                if m["displayName"] == wanted]})
        if request.method == "GET" and (m := re.fullmatch(r"models/(\d+)(?:@(\w+))?", path)):
            return json_response(request, 200, self._model_json(m.group(1), m.group(2)))
        if request.method == "POST" and path == "models:upload":
            return self._upload(request, body)
        if request.method == "POST" and path == "endpoints/7001:deployModel":
            return self._deploy(request, body)
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    def _upload(self, request, body):
        model = body["model"]
        assert model["artifactUri"].startswith("gs://"), model
        assert model["containerSpec"]["imageUri"].endswith("prediction/tf2-cpu.2-16:latest")
        assert model["displayName"] and model["labels"]["app"] == "fullcycle"
        if "parentModel" in body:
            model_id = body["parentModel"].rsplit("/", 1)[1]
            assert model_id in self.models, f"parent {body['parentModel']} does not exist"
            entry = self.models[model_id]
            version = str(len(entry["aliases"]) + 1)
            assert not set(model.get("versionAliases", [])) & {
                a for aliases in entry["aliases"].values() for a in aliases}, "alias taken"
        else:
            model_id, version = str(next(self._ids)), "1"
            entry = self.models[model_id] = {"displayName": model["displayName"], "aliases": {},
                                             "artifacts": {}, "default": "1",
                                             "labels": model["labels"]}
        entry["aliases"][version] = model.get("versionAliases", [])
        entry["artifacts"][version] = model["artifactUri"]
        return self._done(request, "UploadModelResponse", {
            "model": f"{PARENT}/models/{model_id}", "modelVersionId": version})

    def _deploy(self, request, body):
        deployed, split = body["deployedModel"], body["trafficSplit"]
        model_id, version = re.fullmatch(rf"{PARENT}/models/(\d+)(?:@(\w+))?",
                                         deployed["model"]).groups()
        assert model_id in self.models and (version is None or version in
                                            self.models[model_id]["aliases"]), deployed["model"]
        resources = deployed["dedicatedResources"]
        assert resources["machineSpec"]["machineType"] and resources["minReplicaCount"] >= 1
        known = {d["id"] for d in self.endpoint["deployedModels"]}
        assert set(split) <= known | {"0"}, split
        assert all(isinstance(v, int) and 0 <= v <= 100 for v in split.values())
        assert sum(split.values()) == 100, split
        new_id = str(next(self._ids))
        self.endpoint["deployedModels"].append({**deployed, "id": new_id})
        self.endpoint["trafficSplit"] = {new_id if k == "0" else k: v
                                         for k, v in split.items() if v}
        return self._done(request, "DeployModelResponse", {"deployedModel": {
            **deployed, "id": new_id}})


@pytest.fixture
def registry(monkeypatch):
    with intercepted(monkeypatch, FakeRegistry()) as fake:
        yield fake


@pytest.fixture
def target():
    return CloudTarget.from_stack("basic_template", "dev")


ARTIFACTS = "gs://fullcycle-dev-fc-basic-template/pipeline_root/Trainer/model/{}/Format-Serving"


def test_first_version_takes_all_traffic_then_a_canary_at_the_first_weight(registry, target):
    first = deploy_version(target, ARTIFACTS.format(1), "1795981998",
                           credentials=AnonymousCredentials())
    assert first.version_id == "1" and first.traffic_split == {first.deployed_model_id: 100}
    (upload,) = [b for m, p, b in registry.calls if p == "models:upload"]
    assert "parentModel" not in upload
    assert upload["model"]["versionAliases"] == ["v1795981998", "default"]

    second = deploy_version(target, ARTIFACTS.format(2), "1795990000",
                            credentials=AnonymousCredentials())
    uploads = [b for m, p, b in registry.calls if p == "models:upload"]
    assert uploads[1]["parentModel"] == first.model  # a new version of the same model
    assert second.model == first.model and second.version_id == "2"
    assert second.traffic_split == {second.deployed_model_id: 10, first.deployed_model_id: 90}
    deploy = [b for m, p, b in registry.calls if p.endswith(":deployModel")][1]
    assert deploy["deployedModel"]["model"].endswith("@2")
    assert deploy["deployedModel"]["dedicatedResources"]["machineSpec"]["machineType"] == \
        "n1-standard-2"


def test_no_second_candidate_while_a_rollout_is_under_way(registry, target):
    for version in ("1", "2"):
        deploy_version(target, ARTIFACTS.format(version), version, AnonymousCredentials())
    before = json.dumps(registry.endpoint)
    uploads = sum(p == "models:upload" for _, p, _ in registry.calls)
    with pytest.raises(FullcycleError, match="rollout is under way"):
        deploy_version(target, ARTIFACTS.format(3), "3", AnonymousCredentials())
    assert json.dumps(registry.endpoint) == before  # nothing uploaded or deployed
    assert sum(p == "models:upload" for _, p, _ in registry.calls) == uploads


def test_missing_endpoint_is_a_clear_error(registry, target):
    registry.endpoint["displayName"] = "something-else"
    with pytest.raises(FullcycleError, match="'fc-basic-template' does not exist.*pulumi up"):
        deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    assert not [p for _, p, _ in registry.calls if p == "models:upload"]


def _artifact(kind, uri, blessed=None):
    artifact = kind()
    artifact.uri = uri
    if blessed is not None:
        artifact.set_int_custom_property("blessed", blessed)
    return artifact


@pytest.mark.parametrize("model_blessed, infra_blessed", [(0, 1), (1, 0)])
def test_vertex_pusher_pushes_nothing_without_both_blessings(registry, target, model_blessed,
                                                              infra_blessed):
    from dataclasses import asdict

    from tfx.types import standard_artifacts as sa

    from pipelines.cloud.pusher import VertexPusher

    pushed = _artifact(sa.PushedModel, "gs://b/pushed")
    VertexPusher.test_call(
        model=_artifact(sa.Model, "gs://b/model"),
        model_blessing=_artifact(sa.ModelBlessing, "gs://b/blessing", model_blessed),
        infra_blessing=_artifact(sa.InfraBlessing, "gs://b/infra", infra_blessed),
        pushed_model=pushed, target=json.dumps(asdict(target)))
    assert pushed.get_int_custom_property("pushed") == 0
    assert registry.calls == []  # Vertex AI was not called at all


def test_vertex_pusher_deploys_a_blessed_model_as_a_new_version(registry, target):
    from dataclasses import asdict

    from tfx.types import standard_artifacts as sa

    from pipelines.cloud.pusher import VertexPusher

    pushed = _artifact(sa.PushedModel, "gs://b/pushed")
    VertexPusher.test_call(
        model=_artifact(sa.Model, "gs://fullcycle-dev-fc-basic-template/Trainer/model/5"),
        model_blessing=_artifact(sa.ModelBlessing, "gs://b/blessing", 1),
        infra_blessing=_artifact(sa.InfraBlessing, "gs://b/infra", 1),
        pushed_model=pushed, target=json.dumps(asdict(target)))
    assert pushed.get_int_custom_property("pushed") == 1
    (upload,) = [b for _, p, b in registry.calls if p == "models:upload"]
    assert upload["model"]["artifactUri"] == \
        "gs://fullcycle-dev-fc-basic-template/Trainer/model/5/Format-Serving"
    assert pushed.get_string_custom_property("pushed_destination").endswith("@1")
    assert registry.endpoint["trafficSplit"] == {
        json.loads(pushed.get_string_custom_property("deployment"))["deployed_model_id"]: 100}
