"""The canary on Vertex AI, through the real Google clients over fake services.

The candidate is deployed as the Vertex Pusher deploys it (``deploy_version``);
traffic is "served" by writing what Vertex AI would record: request-response
rows in the BigQuery log and latency / error samples in Cloud Monitoring. The
controller then reads them back through BigQuery query jobs and
``timeSeries.list``, moves the split with the aiplatform client and keeps its
state in GCS under a lease.
"""

import json
import time

import pytest
from fastapi.testclient import TestClient
from google.auth.credentials import AnonymousCredentials

from pipelines.canary.controller import RolloutBusyError
from pipelines.cloud.endpoint import ERROR_METRIC, LATENCY_METRIC
from pipelines.cloud.registry import deploy_version
from pipelines.cloud.rollout import cloud_controller
from pipelines.cloud.rollout_store import GcsRolloutStore
from pipelines.config.errors import FullcycleError
from pipelines.stack.names import REQUEST_LOG_TABLE

MODEL = "basic_template"
ARTIFACTS = "gs://fullcycle-dev-fc-basic-template/pipeline_root/Trainer/model/{}/Format-Serving"
T0 = 1_800_000_000.0
INTERVAL = 600  # the dev stack: interval_minutes 10, steps 10/25/50/100, failure_threshold 2


@pytest.fixture
def canary(cloud, target):
    """A stable version at 90 % and a candidate at 10 %, deployed as the Pusher does."""
    stable = deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    candidate = deploy_version(target, ARTIFACTS.format(2), "2", AnonymousCredentials())
    assert candidate.traffic_split == {candidate.deployed_model_id: 10,
                                       stable.deployed_model_id: 90}
    return stable.deployed_model_id, candidate.deployed_model_id


def serve(cloud, target, deployed_id, start, count=30, prediction=0.5, spread=0.1,
          latency_ms=40.0, errors=0):
    """What Vertex AI records for ``count`` answered requests (and ``errors`` failed ones)."""
    table = f"{target.project}.{target.dataset}.{REQUEST_LOG_TABLE}"
    for i in range(count):
        at = start + 1 + i * (INTERVAL - 10) / count
        value = prediction if isinstance(prediction, str) else \
            [prediction + spread * ((i % 5) - 2) / 2]
        cloud.bigquery.log(table, deployed_id, at, [value, value])  # two instances a request
        cloud.monitoring.record(LATENCY_METRIC, deployed_id, at, latency_ms)
    if errors:
        cloud.monitoring.record(ERROR_METRIC, deployed_id, start + 5, errors)


def state_in_gcs(cloud, target):
    return json.loads(cloud.gcs.objects[target.bucket, f"rollouts/{MODEL}.json"]["data"])


def controller():
    return cloud_controller(MODEL, "dev", AnonymousCredentials())


def test_a_good_candidate_is_promoted_through_every_step(cloud, target, canary):
    stable, candidate = canary
    assert controller().tick(now=T0).step == 0  # adopts the Pusher's 10 % canary
    now = T0
    for weight in (25, 50):
        serve(cloud, target, candidate, now)
        serve(cloud, target, stable, now)
        now += INTERVAL
        rollout = controller().tick(now=now)  # a new controller each time: a new request
        assert rollout.status == "progressing", rollout.history[-1]
        assert cloud.registry.endpoint["trafficSplit"] == {candidate: weight,
                                                           stable: 100 - weight}
    serve(cloud, target, candidate, now)
    serve(cloud, target, stable, now)
    rollout = controller().tick(now=now + INTERVAL)
    assert rollout.status == "promoted"
    assert cloud.registry.endpoint["trafficSplit"] == {candidate: 100}
    assert cloud.registry.undeployed == [stable]
    assert [s for s in cloud.registry.splits] == [
        {candidate: 25, stable: 75}, {candidate: 50, stable: 50}, {candidate: 100}]
    saved = state_in_gcs(cloud, target)
    assert saved["status"] == "promoted" and len(saved["history"]) == 3
    window = saved["history"][0]["candidate"]
    assert window["samples"] == 30 and window["error_rate"] == 0.0
    assert window["latency_p99_ms"] == 40.0 and window["mean_prediction"] == pytest.approx(0.5)
    assert (target.bucket, f"rollouts/{MODEL}.lease") not in cloud.gcs.objects  # released
    # every query named the model's log table and one deployed model's window
    assert all(f"`{target.project}.{target.dataset}.endpoint_requests`" in q
               for q in cloud.bigquery.queries)


@pytest.mark.parametrize("problem, served, reason", [
    ("NaN answers", {"prediction": "NaN"}, "error rate 1.000"),
    ("failed requests", {"errors": 5}, "error rate 0.143"),  # 5 of 35
    ("slow", {"latency_ms": 900.0}, "latency p99 900.0 ms"),
    ("shifted predictions", {"prediction": 3.0}, "prediction shift"),
])
def test_a_bad_candidate_is_rolled_back_to_the_stable_model(cloud, target, canary, problem,
                                                            served, reason):
    stable, candidate = canary
    controller().tick(now=T0)
    now = T0
    for _ in range(2):  # failure_threshold
        serve(cloud, target, candidate, now, **served)
        serve(cloud, target, stable, now)
        now += INTERVAL
        rollout = controller().tick(now=now)
    assert rollout.status == "aborted" and reason in rollout.reason, (problem, rollout.reason)
    assert cloud.registry.endpoint["trafficSplit"] == {stable: 100}
    assert cloud.registry.undeployed == [candidate]
    assert state_in_gcs(cloud, target)["reason"] == rollout.reason


def test_a_rollout_started_by_hand_deploys_the_version_at_the_first_step(cloud, target):
    stable = deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    controller().start(stable.model + "@1", now=T0)  # e.g. re-canary a registry version
    (deploy,) = [b for m, p, b in cloud.registry.calls if p.endswith(":deployModel")][1:]
    assert deploy["deployedModel"]["dedicatedResources"]["machineSpec"]["machineType"] == \
        "n1-standard-2"
    rollout = state_in_gcs(cloud, target)
    assert rollout["stable_id"] == stable.deployed_model_id and rollout["step"] == 0
    assert cloud.registry.endpoint["trafficSplit"] == {rollout["candidate_id"]: 10,
                                                       stable.deployed_model_id: 90}


def test_too_few_samples_never_promote(cloud, target, canary):
    stable, candidate = canary
    controller().tick(now=T0)
    serve(cloud, target, candidate, T0, count=5)  # min_samples is 20
    rollout = controller().tick(now=T0 + INTERVAL)
    assert rollout.failed == 1 and "too few samples: 5 < 20" in rollout.history[-1]["result"]
    assert cloud.registry.endpoint["trafficSplit"] == {candidate: 10, stable: 90}


def test_a_repeated_tick_within_the_interval_changes_nothing(cloud, target, canary):
    stable, candidate = canary
    controller().tick(now=T0)
    serve(cloud, target, candidate, T0)
    serve(cloud, target, stable, T0)
    assert controller().tick(now=T0 + INTERVAL).step == 1
    generation = cloud.gcs.objects[target.bucket, f"rollouts/{MODEL}.json"]["generation"]
    assert controller().tick(now=T0 + INTERVAL + 5).step == 1  # Scheduler's retry
    assert cloud.registry.endpoint["trafficSplit"] == {candidate: 25, stable: 75}
    assert cloud.gcs.objects[target.bucket, f"rollouts/{MODEL}.json"]["generation"] == \
        generation


def test_a_held_lease_refuses_a_second_tick_and_an_expired_one_is_broken(cloud, target,
                                                                         canary):
    stable, candidate = canary
    controller().tick(now=T0)
    lease = (target.bucket, f"rollouts/{MODEL}.lease")
    cloud.gcs.put(*lease, b"{}", updated=time.time())  # another tick is running
    serve(cloud, target, candidate, T0)
    serve(cloud, target, stable, T0)
    with pytest.raises(RolloutBusyError, match="holds gs://fullcycle-dev-fc-basic-template/"):
        controller().tick(now=T0 + INTERVAL)
    assert cloud.registry.splits == []  # nothing moved
    cloud.gcs.put(*lease, b"{}", updated=time.time() - 3600)  # its tick died long ago
    assert controller().tick(now=T0 + INTERVAL).step == 1
    assert lease not in cloud.gcs.objects


def test_a_tick_whose_state_changed_underneath_overwrites_nothing(cloud, target):
    store = GcsRolloutStore(target.bucket, MODEL, target.project, AnonymousCredentials())
    with store.exclusive():
        assert store.load() is None
        cloud.gcs.put(target.bucket, f"rollouts/{MODEL}.json", b'{"newer": true}', 0.0)
        with pytest.raises(RolloutBusyError, match="changed during this tick"):
            store.save({"older": True})
    assert state_in_gcs(cloud, target) == {"newer": True}


def test_a_missing_request_log_is_a_clear_error(cloud, target, canary):
    cloud.bigquery.tables.clear()
    controller().tick(now=T0)
    with pytest.raises(FullcycleError, match=r"request log fullcycle-dev\.fc_basic_template\."
                                             r"endpoint_requests failed: 404"):
        controller().tick(now=T0 + INTERVAL)
    assert (target.bucket, f"rollouts/{MODEL}.lease") not in cloud.gcs.objects


def test_the_cloud_runner_route_ticks_the_rollout(cloud, target, canary):
    from pipelines.runner.app import create_app
    from pipelines.runner.vertex import VertexBackend

    app = create_app(VertexBackend("dev", AnonymousCredentials()),
                     lambda model: cloud_controller(model, "dev", AnonymousCredentials()))
    client = TestClient(app)
    stable, candidate = canary
    answer = client.post(f"/rollouts/{MODEL}:tick")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "progressing"
    assert answer.json()["candidate_id"] == candidate and answer.json()["stable_id"] == stable
    cloud.gcs.put(target.bucket, f"rollouts/{MODEL}.lease", b"{}", updated=time.time())
    busy = client.post(f"/rollouts/{MODEL}:tick")
    assert busy.status_code == 409 and "holds gs://" in busy.json()["error"]
    assert client.post("/rollouts/no_such_model:tick").status_code == 404


def test_the_cli_ticks_a_cloud_rollout_with_application_default_credentials(
        cloud, target, canary, monkeypatch):
    import google.auth
    from typer.testing import CliRunner

    from pipelines.cli.main import app

    monkeypatch.setattr(google.auth, "default",
                        lambda *a, **kw: (AnonymousCredentials(), target.project))
    stable, candidate = canary
    result = CliRunner().invoke(app, ["rollout", MODEL, "--cloud", "--stack", "dev"])
    assert result.exit_code == 0, result.output
    assert f"step 0: candidate {candidate}, stable {stable}, failed 0" in result.output
    refused = CliRunner().invoke(app, ["rollout", MODEL, "--cloud", "--min-samples", "3"])
    assert refused.exit_code == 2 and "are for the local endpoint" in refused.output

