"""Vertex AI Model Monitoring through the real aiplatform client over the fake Vertex AI.

The fake checks what Vertex AI checks of a ModelDeploymentMonitoringJob (its
endpoint, deployed model ids, BigQuery training data, thresholds in (0, 1],
sample rate, an interval of at least an hour, alert addresses and channels).
"""

import json

import pytest
from google.auth.credentials import AnonymousCredentials

from infra.components.monitoring import MonitoringJobProvider
from pipelines.cloud.monitoring import MonitoringSpec, point_at_serving, spec_of
from pipelines.cloud.registry import deploy_version
from pipelines.config.errors import FullcycleError
from pipelines.stack.config import StackConfig

MODEL = "basic_template"
ARTIFACTS = "gs://fullcycle-dev-fc-basic-template/pipeline_root/Trainer/model/{}/Format-Serving"
MONITORING = {"enabled": True, "sample_rate": 0.5, "interval_hours": 6,
              "alert_emails": ["ml-oncall@example.com"],
              "features": {"numeric_feature1": {"skew": 0.6}}}


def spec(**changes) -> MonitoringSpec:
    config = StackConfig.from_mapping({
        "gcp:project": "fullcycle-dev", "gcp:region": "europe-west4",
        "fullcycle:runnerImage": "europe-west4-docker.pkg.dev/fullcycle-dev/fullcycle/runner:1",
        "fullcycle:labels": {"cost-center": "ml"},
        "fullcycle:models": [{"name": MODEL, "monitoring": {**MONITORING, **changes}}]}, "dev")
    return spec_of(config, MODEL)


def deploy(target, version: str) -> str:
    return deploy_version(target, ARTIFACTS.format(version), version,
                          AnonymousCredentials()).deployed_model_id


def only_job(cloud) -> dict:
    (job,) = cloud.registry.monitoring_jobs.values()
    return job


def test_provider_creates_the_job_from_the_stack_settings(cloud, target):
    deployed = deploy(target, "1")
    result = MonitoringJobProvider().create({"spec": spec().as_dict(), "job": None})
    job = only_job(cloud)
    assert result.id == "fc-basic-template-monitoring" == job["displayName"]
    assert result.outs["job"] == job["name"]
    (objective,) = job["modelDeploymentMonitoringObjectiveConfigs"]
    assert objective["deployedModelId"] == deployed
    config = objective["objectiveConfig"]
    assert config["trainingDataset"]["bigquerySource"]["inputUri"] == \
        "bq://fullcycle-dev.fc_basic_template.basic_template"
    assert config["trainingDataset"]["targetField"] == "label"
    skew = config["trainingPredictionSkewDetectionConfig"]["skewThresholds"]
    drift = config["predictionDriftDetectionConfig"]["driftThresholds"]
    # the one threshold rule: the feature's own, else the model's default (0.3)
    assert skew == {"numeric_feature1": {"value": 0.6}, "numeric_feature2": {"value": 0.3},
                    "categorical_calculated": {"value": 0.3},
                    "categorical_feature": {"value": 0.3}}
    assert set(drift) == set(skew) and drift["numeric_feature1"] == {"value": 0.3}
    assert job["loggingSamplingStrategy"]["randomSampleConfig"]["sampleRate"] == 0.5
    assert job["modelDeploymentMonitoringScheduleConfig"]["monitorInterval"] == "21600s"
    assert job["modelMonitoringAlertConfig"]["emailAlertConfig"]["userEmails"] == \
        ["ml-oncall@example.com"]
    assert job["labels"]["cost-center"] == "ml" and job["labels"]["model"] == "basic-template"


def test_unchanged_settings_are_no_change_changed_thresholds_an_update(cloud, target):
    deploy(target, "1")
    provider = MonitoringJobProvider()
    olds = provider.create({"spec": spec().as_dict(), "job": None}).outs
    assert provider.diff("id", olds, {"spec": spec().as_dict()}).changes is False
    news = {"spec": spec(drift_threshold=0.2).as_dict()}
    diff = provider.diff("id", olds, news)
    assert diff.changes is True and diff.replaces == []  # updated in place
    before = only_job(cloud)["name"]
    provider.update("id", olds, news)
    job = only_job(cloud)  # the same job, not a new one
    assert job["name"] == before
    assert "modelDeploymentMonitoringObjectiveConfigs" in job["updateMask"]
    drift = job["modelDeploymentMonitoringObjectiveConfigs"][0]["objectiveConfig"][
        "predictionDriftDetectionConfig"]["driftThresholds"]
    assert drift["numeric_feature2"] == {"value": 0.2}


def test_delete_pauses_then_deletes_the_job(cloud, target):
    deploy(target, "1")
    provider = MonitoringJobProvider()
    outs = provider.create({"spec": spec().as_dict(), "job": None}).outs
    provider.delete("id", outs)
    assert cloud.registry.monitoring_jobs == {}
    provider.delete("id", outs)  # already gone: nothing to do


def test_an_endpoint_serving_nothing_gets_its_job_at_the_first_tick(cloud, target):
    result = MonitoringJobProvider().create({"spec": spec().as_dict(), "job": None})
    assert result.outs["job"] == "" and cloud.registry.monitoring_jobs == {}
    deployed = deploy(target, "1")
    assert "now watches" in point_at_serving(spec(), AnonymousCredentials())
    assert only_job(cloud)["modelDeploymentMonitoringObjectiveConfigs"][0][
        "deployedModelId"] == deployed


def test_the_rollout_points_the_job_at_the_models_serving_now(cloud, target):
    stable = deploy(target, "1")
    MonitoringJobProvider().create({"spec": spec().as_dict(), "job": None})
    name = only_job(cloud)["name"]
    candidate = deploy(target, "2")  # the canary: both serve
    assert "now watches" in point_at_serving(spec(), AnonymousCredentials())
    watched = {c["deployedModelId"] for c in only_job(cloud)[
        "modelDeploymentMonitoringObjectiveConfigs"]}
    assert watched == {stable, candidate}
    # promoted: the stable one is undeployed; the job is updated, not re-created
    endpoint = cloud.registry.endpoint
    endpoint["trafficSplit"] = {candidate: 100}
    endpoint["deployedModels"] = [d for d in endpoint["deployedModels"] if d["id"] == candidate]
    assert "now watches" in point_at_serving(spec(), AnonymousCredentials())
    job = only_job(cloud)
    assert job["name"] == name
    assert [c["deployedModelId"] for c in job["modelDeploymentMonitoringObjectiveConfigs"]] \
        == [candidate]
    assert "already watches" in point_at_serving(spec(), AnonymousCredentials())


def test_a_refused_request_is_an_error_naming_the_model(cloud, target):
    deploy(target, "1")
    elsewhere = spec(notification_channels=["projects/other-project/notificationChannels/7"])
    with pytest.raises(FullcycleError, match=r"model 'basic_template': creating monitoring "
                                             r"job 'fc-basic-template-monitoring'.*not in "
                                             r"project fullcycle-dev"):
        MonitoringJobProvider().create({"spec": elsewhere.as_dict(), "job": None})
    assert cloud.registry.monitoring_jobs == {}


def test_spec_round_trips_as_pulumi_inputs():
    original = spec()
    assert MonitoringSpec.from_dict(json.loads(json.dumps(original.as_dict()))) == original


def test_each_rollout_tick_of_the_runner_points_the_job(cloud, target, tmp_path):
    """The Vertex runner's tick route: the canary moves traffic, then the job follows."""
    from fastapi.testclient import TestClient

    from pipelines.cloud.rollout import cloud_controller
    from pipelines.runner.app import create_app
    from pipelines.runner.vertex import VertexBackend

    stable = deploy(target, "1")
    MonitoringJobProvider().create({"spec": spec().as_dict(), "job": None})
    candidate = deploy(target, "2")
    app = create_app(VertexBackend("dev", AnonymousCredentials()),
                     lambda model: cloud_controller(model, "dev", AnonymousCredentials()),
                     after_tick=lambda model: point_at_serving(spec(), AnonymousCredentials()))
    answer = TestClient(app).post(f"/rollouts/{MODEL}:tick")
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidate_id"] == candidate  # the canary took the candidate up
    assert "now watches" in answer.json()["monitoring"]
    watched = {c["deployedModelId"] for c in only_job(cloud)[
        "modelDeploymentMonitoringObjectiveConfigs"]}
    assert watched == {stable, candidate}
