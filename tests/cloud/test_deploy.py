"""Deployment to Vertex AI through the real google-cloud-aiplatform client.

Only the HTTP transport is replaced: a fake Model Registry and endpoint answer
at the ``requests`` adapter and check each request as Vertex AI would (known
parent model, gs:// artifacts, a serving image, traffic splits of integers
summing to 100 naming deployed models or "0" for the new one).
"""

import json

import pytest
from google.auth.credentials import AnonymousCredentials

from pipelines.cloud.registry import deploy_version
from pipelines.config import load_config
from pipelines.config.errors import FullcycleError
from tests.cloud.conftest import ARTIFACTS, SAVED_MODEL
from tests.support.google_http import intercepted

BUCKET = "fullcycle-dev-fc-basic-template"


@pytest.fixture
def registry(cloud):
    return cloud.registry


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


def test_a_pushed_model_is_kept_where_nothing_ages_out(cloud, target):
    """Registry versions point at models/<version>/, a copy that outlives pipeline_root/."""
    from infra.components.model_platform import AGING_PREFIXES

    first = deploy_version(target, ARTIFACTS.format(1), "1795981998",
                           credentials=AnonymousCredentials())
    (upload,) = [b for m, p, b in cloud.registry.calls if p == "models:upload"]
    assert upload["model"]["artifactUri"] == f"gs://{BUCKET}/models/1795981998"
    assert not any("models/1795981998/".startswith(p) for p in AGING_PREFIXES)
    for name in SAVED_MODEL:  # every file, byte for byte
        assert cloud.gcs.objects[BUCKET, f"models/1795981998/{name}"]["data"] == \
            f"run 1: {name}".encode()
    for key in [k for k in cloud.gcs.objects if k[1].startswith("pipeline_root/")]:
        del cloud.gcs.objects[key]  # the 90-day rule ran
    served = cloud.registry.models[first.model.rsplit("/", 1)[1]]["artifacts"]["1"]
    assert any(name.startswith(served.removeprefix(f"gs://{BUCKET}/") + "/saved_model.pb")
               for _, name in cloud.gcs.objects)


def test_nothing_is_uploaded_when_the_run_has_no_model_files(cloud, target):
    with pytest.raises(FullcycleError, match="no SavedModel under .*/model/9/Format-Serving"):
        deploy_version(target, ARTIFACTS.format(9), "1795981998", AnonymousCredentials())
    assert not [p for _, p, _ in cloud.registry.calls if p == "models:upload"]


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
        model=_artifact(sa.Model, ARTIFACTS.format(5).removesuffix("/Format-Serving")),
        model_blessing=_artifact(sa.ModelBlessing, "gs://b/blessing", 1),
        infra_blessing=_artifact(sa.InfraBlessing, "gs://b/infra", 1),
        pushed_model=pushed, target=json.dumps(asdict(target)))
    assert pushed.get_int_custom_property("pushed") == 1
    (upload,) = [b for _, p, b in registry.calls if p == "models:upload"]
    version = pushed.get_string_custom_property("pushed_version")
    assert upload["model"]["artifactUri"] == f"gs://{BUCKET}/models/{version}"
    assert pushed.get_string_custom_property("pushed_destination").endswith("@1")
    assert registry.endpoint["trafficSplit"] == {
        json.loads(pushed.get_string_custom_property("deployment"))["deployed_model_id"]: 100}


def _statistics(path, rows: dict[str, int]) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for split, count in rows.items():
        folder = path / f"Split-{split}"
        folder.mkdir(parents=True)
        stats = statistics_pb2.DatasetFeatureStatisticsList(
            datasets=[statistics_pb2.DatasetFeatureStatistics(num_examples=count)])
        (folder / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    return str(path)


def test_vertex_pusher_uploads_the_model_card_with_the_model(monkeypatch, tmp_path, target):
    """The card goes beside the SavedModel in the model's bucket before the upload."""
    from dataclasses import asdict

    from tfx.types import standard_artifacts as sa

    from pipelines.cloud.pusher import VertexPusher
    from pipelines.config.registry import with_overrides
    from tests.support.evaluations import evaluate_predictions
    from tests.support.google_fakes import FakeGoogleCloud

    config = with_overrides(  # no change threshold: a first push has no baseline model
        load_config("basic_template"), eval_metric_spec={"metrics": [{"name": "mse"}]},
        model_card={"description": "A demo regression.", "owners": ["ml-platform"]})
    rows = [{"label": float(i % 7), "prediction": float(i % 7) + 0.5,
             "categorical_feature": "amber"} for i in range(40)]
    evaluation = _artifact(sa.ModelEvaluation, evaluate_predictions(tmp_path, config, rows))
    statistics = _artifact(sa.ExampleStatistics,
                           _statistics(tmp_path / "stats", {"train": 160, "eval": 40}))
    bucket = BUCKET
    model_uri = f"gs://{bucket}/pipeline_root/Trainer/model/5"
    with intercepted(monkeypatch, FakeGoogleCloud({bucket})) as cloud:
        cloud.gcs.put(bucket, "pipeline_root/Trainer/model/5/Format-Serving/saved_model.pb",
                      b"model", 0.0)
        pushed = _artifact(sa.PushedModel, "gs://b/pushed")
        VertexPusher.test_call(
            model=_artifact(sa.Model, model_uri),
            model_blessing=_artifact(sa.ModelBlessing, "gs://b/blessing", 1),
            infra_blessing=_artifact(sa.InfraBlessing, "gs://b/infra", 1),
            evaluation=evaluation, statistics=statistics,
            model_config=config.model_dump_json(), pushed_model=pushed,
            target=json.dumps(asdict(target)))
    assert pushed.get_int_custom_property("pushed") == 1
    version = pushed.get_string_custom_property("pushed_version")
    card = cloud.gcs.objects[bucket, f"models/{version}/model_card.md"]
    text = card["data"].decode()
    assert card["type"] == "text/markdown"
    assert text.startswith("# Model card: basic_template (version ")
    assert "A demo regression." in text and "| Owners | ml-platform |" in text
    assert "Rows per split: eval 40, train 160." in text
    assert "| mse | 0.25 |" in text  # every prediction 0.5 off
    (upload,) = [b for _, p, b in cloud.registry.calls if p == "models:upload"]
    assert upload["model"]["artifactUri"] == f"gs://{bucket}/models/{version}"
    assert f"gs://{bucket}/models/{version}" in text  # the card says where the model is
