"""Every canary step on Vertex AI is repeatable: kills, retries, early ticks, racing pushes.

Same fakes as ``test_rollout.py`` (the real Google clients, fake services at
HTTP). An instance killed mid-tick is a controller whose endpoint call returns
and then raises :class:`Killed` (nothing after it runs); the next tick is a new
controller, as the next Scheduler tick reaches a new instance.
"""

import datetime as dt
import json
import threading

import pytest
import requests
from fastapi.testclient import TestClient
from google.auth.credentials import AnonymousCredentials

from pipelines.cloud.endpoint import LATENCY_METRIC, VertexEndpoint
from pipelines.cloud.registry import deploy_version
from pipelines.cloud.rollout import cloud_controller
from pipelines.config.errors import FullcycleError
from pipelines.stack.names import REQUEST_LOG_TABLE

MODEL = "basic_template"
ARTIFACTS = "gs://fullcycle-dev-fc-basic-template/pipeline_root/Trainer/model/{}/Format-Serving"
T0 = 1_800_000_000.0
INTERVAL = 600  # the dev stack: interval_minutes 10, steps 10/25/50/100, failure_threshold 2
LEASE = f"rollouts/{MODEL}.lease"


class Killed(BaseException):
    """The instance died here (not an Exception: nothing in the code under test catches it)."""


@pytest.fixture
def canary(cloud, target):
    """A stable version at 90 % and a candidate at 10 %, deployed as the Pusher does."""
    stable = deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    candidate = deploy_version(target, ARTIFACTS.format(2), "2", AnonymousCredentials())
    return stable.deployed_model_id, candidate.deployed_model_id


def serve(cloud, target, deployed_id, start, prediction=0.5):
    """What Vertex AI records for 30 answered requests of ``deployed_id`` in one window."""
    table = f"{target.project}.{target.dataset}.{REQUEST_LOG_TABLE}"
    for i in range(30):
        at = start + 1 + i * (INTERVAL - 10) / 30
        value = prediction if isinstance(prediction, str) else [prediction + 0.05 * (i % 5 - 2)]
        cloud.bigquery.log(table, deployed_id, at, [value])
        cloud.monitoring.record(LATENCY_METRIC, deployed_id, at, 40.0)


def controller(dies_after: str | None = None):
    """A new instance's controller; with ``dies_after``, killed once that call returned."""
    made = cloud_controller(MODEL, "dev", AnonymousCredentials())
    if dies_after is not None:
        call = getattr(made.endpoint, dies_after)

        def dying(*args, **kwargs):
            call(*args, **kwargs)
            raise Killed(dies_after)

        setattr(made.endpoint, dies_after, dying)
    return made


def window(cloud, target, pair, now, candidate="good"):
    stable, candidate_id = pair
    serve(cloud, target, candidate_id, now, "NaN" if candidate == "bad" else 0.5)
    serve(cloud, target, stable, now)


def state(cloud, target):
    return json.loads(cloud.gcs.objects[target.bucket, f"rollouts/{MODEL}.json"]["data"])


@pytest.mark.parametrize("step, call", [("step", "set_split"), ("promote", "set_split"),
                                        ("promote", "undeploy"), ("abort", "set_split"),
                                        ("abort", "undeploy")])
def test_a_tick_killed_after_the_traffic_moved_is_finished_by_the_next(cloud, target, canary,
                                                                       step, call):
    stable, candidate = canary
    controller().tick(now=T0)  # adopts the 10 % canary
    now, kind = T0, "bad" if step == "abort" else "good"
    ticks_before = {"step": 0, "promote": 2, "abort": 1}[step]
    for _ in range(ticks_before):
        window(cloud, target, canary, now, kind)
        now += INTERVAL
        assert controller().tick(now=now).status == "progressing"
    window(cloud, target, canary, now, kind)
    now += INTERVAL
    with pytest.raises(Killed):
        controller(dies_after=call).tick(now=now)
    if step == "step":  # the 25 % step was taken and recorded: the next window moves on
        window(cloud, target, canary, now)
        now += INTERVAL
        rollout = controller().tick(now=now)
        assert rollout.status == "progressing" and rollout.step == 2
        assert cloud.registry.endpoint["trafficSplit"] == {candidate: 50, stable: 50}
        assert [h["weight"] for h in rollout.history] == [10, 25]
        window(cloud, target, canary, now)
        now += INTERVAL
    rollout = controller().tick(now=now + 1)
    expected = {"step": ("promoted", candidate, stable), "promote": ("promoted", candidate, stable),
                "abort": ("aborted", stable, candidate)}[step]
    assert rollout.status == expected[0], rollout
    assert cloud.registry.endpoint["trafficSplit"] == {expected[1]: 100}
    assert cloud.registry.undeployed == [expected[2]]
    assert state(cloud, target)["status"] == expected[0]
    assert controller().tick(now=now + 2).status == expected[0]  # and stays there, no error


def test_a_version_pushed_after_a_killed_promote_keeps_its_canary(cloud, target, canary):
    stable, candidate = canary
    controller().tick(now=T0)
    now = T0
    for _ in range(2):
        window(cloud, target, canary, now)
        now += INTERVAL
        controller().tick(now=now)
    window(cloud, target, canary, now)
    with pytest.raises(Killed):
        controller(dies_after="undeploy").tick(now=now + INTERVAL)
    pushed = deploy_version(target, ARTIFACTS.format(3), "3", AnonymousCredentials())
    assert cloud.registry.endpoint["trafficSplit"] == {pushed.deployed_model_id: 10,
                                                       candidate: 90}
    rollout = controller().tick(now=now + INTERVAL + 5)
    assert (rollout.stable_id, rollout.candidate_id) == (candidate, pushed.deployed_model_id)
    assert rollout.status == "progressing" and rollout.step == 0
    assert cloud.registry.endpoint["trafficSplit"] == {pushed.deployed_model_id: 10,
                                                       candidate: 90}  # not dropped to 0 %


def test_three_deployed_models_need_attention_and_nothing_moves(cloud, target, canary):
    stable, candidate = canary
    controller().tick(now=T0)
    endpoint = VertexEndpoint(target, AnonymousCredentials())
    model = endpoint.describe()["deployedModels"][0]["model"]
    third = endpoint.deploy(model, {"0": 0, stable: 90, candidate: 10})
    splits = list(cloud.registry.splits)
    window(cloud, target, canary, T0)
    rollout = controller().tick(now=T0 + INTERVAL)
    assert rollout.status == "needs_attention"
    assert rollout.deployed_ids == [stable, candidate, third]
    assert "3 models are deployed" in rollout.reason and "Undeploy" in rollout.reason
    assert cloud.registry.splits == splits and cloud.registry.undeployed == []
    app = TestClient(route_app())
    answer = app.post(f"/rollouts/{MODEL}:tick")
    assert answer.status_code == 409 and answer.json()["deployed_ids"] == \
        [stable, candidate, third]
    endpoint.undeploy(third)  # what the answer says to do
    rollout = controller().tick(now=T0 + INTERVAL + 1)
    assert rollout.status == "progressing" and rollout.step == 1  # resumed where it was


def route_app(after_tick=None):
    from pipelines.runner.app import create_app
    from pipelines.runner.vertex import VertexBackend

    return create_app(VertexBackend("dev", AnonymousCredentials()),
                      lambda model: cloud_controller(model, "dev", AnonymousCredentials()),
                      after_tick=after_tick)


def rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_early_tick_still_analyses(cloud, target, canary):
    stable, candidate = canary
    app = TestClient(route_app())
    tick = {"X-CloudScheduler-ScheduleTime": rfc3339(T0)}
    assert app.post(f"/rollouts/{MODEL}:tick", headers=tick).json()["last_tick"] == T0
    window(cloud, target, canary, T0)
    # the next Scheduler tick: its schedule time is one interval later, whenever it arrives
    tick = {"X-CloudScheduler-ScheduleTime": rfc3339(T0 + INTERVAL)}
    answer = app.post(f"/rollouts/{MODEL}:tick", headers=tick)
    assert answer.status_code == 200 and answer.json()["step"] == 1, answer.text
    assert cloud.registry.endpoint["trafficSplit"] == {candidate: 25, stable: 75}
    window(cloud, target, canary, T0 + INTERVAL)
    rollout = controller().tick(now=T0 + 2 * INTERVAL - 1)  # no schedule time, 1 s early
    assert rollout.step == 2 and rollout.history[-1]["result"] == "pass"
    bad = app.post(f"/rollouts/{MODEL}:tick",
                   headers={"X-CloudScheduler-ScheduleTime": "soon"})
    assert bad.status_code == 400 and "RFC 3339" in bad.json()["error"]


def lose_first_answer(cloud, monkeypatch, object_name: str) -> list:
    """The first upload of ``object_name`` succeeds, but its answer never arrives."""
    send, lost = cloud.send, []

    def losing(request):
        response = send(request)
        if request.method == "POST" and "uploadType=multipart" in request.url \
                and object_name.encode() in request.body and not lost:
            lost.append(response.status_code)
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return response

    monkeypatch.setattr(cloud, "send", losing)
    return lost


@pytest.mark.parametrize("name", [LEASE, f"rollouts/{MODEL}.json"])
def test_a_write_whose_answer_was_lost_and_retried_is_recognised_as_ours(
        cloud, target, canary, monkeypatch, name):
    lost = lose_first_answer(cloud, monkeypatch, name)
    rollout = controller().tick(now=T0)  # takes the lease, adopts the canary, saves
    assert lost == [200] and rollout.candidate_id == canary[1]
    assert state(cloud, target)["candidate_id"] == canary[1]
    assert (target.bucket, LEASE) not in cloud.gcs.objects  # released, not stuck


def test_a_failed_monitoring_update_after_a_tick_is_not_a_success(cloud, target, canary):
    def failing(model):
        raise FullcycleError("updating the monitoring job failed: 503 unavailable")

    answer = TestClient(route_app(failing)).post(f"/rollouts/{MODEL}:tick")
    assert answer.status_code == 502
    assert answer.json()["status"] == "progressing"  # the tick itself was taken
    assert "503 unavailable" in answer.json()["monitoring_error"]


def test_two_racing_pushes_deploy_one_version(cloud, target, monkeypatch):
    from pipelines.cloud.push import NOT_DEPLOYED, push_version

    stable = deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    send, deploying, second_done = cloud.send, threading.Event(), threading.Event()

    def slow_first_deploy(request):
        if ":deployModel" in request.url and not deploying.is_set():
            deploying.set()  # the first push checked the endpoint and is deploying ...
            assert second_done.wait(60)  # ... while the second push runs
        return send(request)

    monkeypatch.setattr(cloud, "send", slow_first_deploy)
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", push_version(
        target, ARTIFACTS.format(2), "2", AnonymousCredentials())))
    first.start()
    assert deploying.wait(60)
    try:
        results["second"] = push_version(target, ARTIFACTS.format(3), "3",
                                         AnonymousCredentials())
    finally:
        second_done.set()
        first.join(60)
    assert results["first"].deployment is not None
    assert results["second"].deployment is None
    assert results["second"].note.startswith(f"{NOT_DEPLOYED}: the push of version 2 of "
                                             f"'{MODEL}' holds gs://{target.bucket}/{LEASE}")
    deployed = [m["id"] for m in cloud.registry.endpoint["deployedModels"]]
    assert deployed == [stable.deployed_model_id, results["first"].deployment.deployed_model_id]
    assert (target.bucket, LEASE) not in cloud.gcs.objects
    # a third push while the rollout is under way is not deployed either, and says why
    third = push_version(target, ARTIFACTS.format(4), "4", AnonymousCredentials())
    assert third.deployment is None and "rollout is under way" in third.note
    assert len(cloud.registry.endpoint["deployedModels"]) == 2


def test_a_push_waits_for_a_tick_that_holds_the_lease(cloud, target, monkeypatch):
    """An idle canary tick holds the lease for seconds every interval: a push that meets
    one deploys after it, instead of dropping a blessed version as "rollout in progress"."""
    import contextlib

    from pipelines.cloud import push
    from pipelines.cloud.rollout_store import GcsRolloutStore

    stable = deploy_version(target, ARTIFACTS.format(1), "1", AnonymousCredentials())
    tick = contextlib.ExitStack()
    tick.enter_context(GcsRolloutStore(target.bucket, MODEL, target.project,
                                       AnonymousCredentials()).exclusive())
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        tick.close()  # the tick finishes and releases the lease

    monkeypatch.setattr(push.time, "sleep", sleep)
    with tick:
        pushed = push.push_version(target, ARTIFACTS.format(2), "2", AnonymousCredentials())
    assert pushed.deployment is not None, pushed.note
    assert waits == [push.WAIT_POLL_SECONDS]
    deployed = [m["id"] for m in cloud.registry.endpoint["deployedModels"]]
    assert deployed == [stable.deployed_model_id, pushed.deployment.deployed_model_id]
    # a tick that holds the lease past the wait: the push gives up and says who holds it
    with GcsRolloutStore(target.bucket, MODEL, target.project,
                         AnonymousCredentials()).exclusive():
        late = push.push_version(target, ARTIFACTS.format(3), "3", AnonymousCredentials(),
                                 tick_wait_seconds=0)
    assert late.deployment is None
    assert late.note.startswith(f"{push.NOT_DEPLOYED}: a rollout tick of '{MODEL}' holds")


def test_the_pusher_records_why_it_did_not_deploy_and_succeeds(cloud, target, canary):
    from dataclasses import asdict

    from tfx.types import standard_artifacts as sa

    from pipelines.cloud.pusher import VertexPusher

    def artifact(kind, uri, blessed=None):
        made = kind()
        made.uri = uri
        if blessed is not None:
            made.set_int_custom_property("blessed", blessed)
        return made

    pushed = artifact(sa.PushedModel, "gs://b/pushed")
    VertexPusher.test_call(
        model=artifact(sa.Model, f"gs://{target.bucket}/pipeline_root/Trainer/model/9"),
        model_blessing=artifact(sa.ModelBlessing, "gs://b/blessing", 1),
        infra_blessing=artifact(sa.InfraBlessing, "gs://b/infra", 1),
        pushed_model=pushed, target=json.dumps(asdict(target)))
    assert pushed.get_int_custom_property("pushed") == 0
    note = json.loads(pushed.get_string_custom_property("deployment"))["note"]
    assert note.startswith("not deployed: rollout in progress") and "under way" in note
    assert len(cloud.registry.endpoint["deployedModels"]) == 2
