"""basic_template's compiled Vertex AI pipeline, rehearsed on emulators (slow: marked e2e).

The first run pushes: every task succeeds, a model version is uploaded and deployed at
100 % on the local Vertex AI endpoint with its model card, and every call is recorded
with the identity that made it. The second run builds on the first (the baseline read
by the runner: its statistics, schema and blessed model imported; a canary at the first
weight); a run on data with a unit change (x1000) is stopped by the DataGate, feature named.
Every recorded request is one the permission table lists for its identity.
"""

import json
import shutil

import pytest

from tests.rehearsal.rehearse import Rehearsal

pytestmark = pytest.mark.e2e
MODEL = "basic_template"


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, seeded_warehouse):
    root = tmp_path_factory.mktemp("rehearsal")
    shutil.copy(seeded_warehouse, root / "warehouse.duckdb")
    with Rehearsal(MODEL, "dev", root / "out", root / "warehouse.duckdb") as rehearsal:
        yield rehearsal


@pytest.fixture(scope="module")
def first(rehearsal):
    return rehearsal.run(), rehearsal.vertex.deployed()


@pytest.fixture(scope="module")
def second(rehearsal, first):
    return rehearsal.run(), rehearsal.vertex.deployed()


def _calls(rehearsal) -> list[dict]:
    return [json.loads(line) for line in
            (rehearsal.out / "calls.jsonl").read_text().splitlines()]


def test_first_run_pushes_a_version_deployed_at_100_percent(rehearsal, first):
    report, vertex = first
    assert [(t.name, t.state) for t in report.tasks if t.state != "SUCCEEDED"] == []
    assert report.problems() == []
    assert report.metadata("InfraValidator", "blessing")["blessed"] == 1
    pushed = report.metadata("Pusher", "pushed_model")
    assert pushed["pushed"] == 1
    (model_id, model), = vertex["models"].items()
    (version, artifact_uri), = model["versions"].items()
    # the version is uploaded from the kept copy, not from the aging pipeline_root
    assert artifact_uri.startswith(f"gs://{rehearsal.target.bucket}/models/"), artifact_uri
    assert rehearsal.emulators.read(f"{artifact_uri.rstrip('/')}/saved_model.pb") is not None
    assert pushed["pushed_destination"].endswith(f"/models/{model_id}@{version}")
    (deployed,), split = vertex["deployed_models"], vertex["traffic_split"]
    assert deployed["model"].endswith(f"/models/{model_id}@{version}") and split == {
        deployed["id"]: 100}
    card = rehearsal.emulators.read(f"{artifact_uri.rstrip('/')}/model_card.md")
    assert card is not None and b"basic_template" in card


def test_every_call_is_recorded_with_its_identity(rehearsal, first):
    calls = _calls(rehearsal)
    model_sa = rehearsal.target.service_account
    services = {c["service"] for c in calls if c["identity"] == model_sa}
    assert services == {"storage", "bigquery", "aiplatform", "cloudresourcemanager"}
    assert {"identity": rehearsal.runner_account, "service": "storage", "method": "GET",
            "resource": f"/storage/v1/b/{rehearsal.target.bucket}/o/baselines/baseline.json"
            } in [{k: c[k] for k in ("identity", "service", "method", "resource")}
                  for c in calls]
    uploads = [c for c in calls if c["service"] == "aiplatform" and c["method"] == "POST"
               and c["resource"].endswith("/models:upload")]
    assert [c["identity"] for c in uploads][:1] == [model_sa]


def test_second_run_builds_on_the_first(rehearsal, first, second):
    (one, _), (two, vertex) = first, second
    assert [(t.name, t.state) for t in two.tasks if t.state != "SUCCEEDED"] == []
    # the runner read the first run's baseline: the spec imports its statistics and schema
    assert "baseline_statistics" not in [t.name for t in one.tasks]
    imported = {name: two.task(name).outputs for name in (
        "baseline_statistics", "baseline_schema", "baseline_model")}
    baseline_root = f"gs://{rehearsal.target.bucket}/baselines/"
    assert all(a["uri"].startswith(baseline_root) for outputs in imported.values()
               for artifacts in outputs.values() for a in artifacts), imported
    # the Evaluator compared with the first run's blessed model, kept under baselines/
    (baseline_model,) = two.task("baseline_model").outputs["result"]
    assert baseline_model["uri"].startswith(baseline_root)
    assert rehearsal.emulators.read(
        f"{baseline_model['uri']}/Format-Serving/saved_model.pb") is not None
    blessing = two.metadata("Evaluator", "blessing")
    assert blessing["baseline_model_id"] == baseline_model["name"]
    # pushed as a second version, deployed next to the first at the first canary weight
    assert two.metadata("Pusher", "pushed_model")["pushed"] == 1
    (model,) = vertex["models"].values()
    assert len(model["versions"]) == 2
    old, new = (d["id"] for d in vertex["deployed_models"])
    weight = rehearsal.target.first_canary_weight
    assert vertex["traffic_split"] == {old: 100 - weight, new: weight}


def test_a_unit_change_is_stopped_by_the_data_gate(rehearsal, first):
    before = rehearsal.vertex.deployed()
    rehearsal.load_data(scale={"numeric_feature1": 1000})
    try:
        report = rehearsal.run()
    finally:
        rehearsal.load_data()
    gate = report.task("DataGate")
    assert gate.state == "FAILED" and "numeric_feature1" in gate.error, gate.error
    assert report.task("Transform").state == "SKIPPED"
    assert report.task("Pusher").state == "SKIPPED"
    assert rehearsal.vertex.deployed() == before


# -- batch scoring on the rehearsal's Vertex AI: the runner's VertexScores, the job run on the
# emulators (tests/rehearsal/batch_jobs.py), the post-step appending to the destination.

def _score(rehearsal, scores, when: str):
    import datetime as dt

    from pipelines.runner.runs import score_id_for

    score_id, trigger = score_id_for(MODEL, when)
    requested = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    view, created = scores.submit(MODEL, score_id, trigger, requested)
    assert created and view.state != "FAILED", view  # its job runs meanwhile
    rehearsal.vertex.batch.wait()
    assert not rehearsal.vertex.batch.tracebacks, rehearsal.vertex.batch.tracebacks
    return scores.get(score_id)


@pytest.fixture(scope="module")
def cloud_score(rehearsal, first):
    with rehearsal.runner_scores() as scores:
        return _score(rehearsal, scores, "2026-12-06T06:00:00Z")


def test_a_cloud_score_appends_the_local_scores_to_the_destination(rehearsal, cloud_score,
                                                                    tmp_path):
    from pipelines.cloud.score_append import marker_name
    from pipelines.config.registry import load_config
    from tests.rehearsal.scoring import delete_object, destination_rows, local_predictions

    config = load_config(MODEL)
    view = cloud_score
    assert view.state == "SUCCEEDED" and view.detail["status"] == "scored", view
    assert view.detail["baseline"] and view.detail["checked_rows"] > 0  # the data check ran
    assert not [f for f in view.detail["findings"] if f["action"] == "block"]
    rows = destination_rows(rehearsal, config)
    model_id, version = view.detail["model_version"].rsplit("/", 1)[1].split("@")
    artifact = rehearsal.vertex.registry.models[model_id]["artifacts"][version]
    local = local_predictions(rehearsal, config, artifact, tmp_path / "model")
    # exact row count, keys preserved, the local model's predictions, the local columns
    assert view.detail["rows"] == len(rows) == len(local) > 0
    assert {tuple(r[k] for k in config.score_keys) for r in rows} == set(local)
    for row in rows:
        assert row["prediction"] == pytest.approx(
            local[tuple(row[k] for k in config.score_keys)], rel=1e-5, abs=1e-6)
    from pipelines.workflows.score import score_columns

    assert sorted(rows[0]) == sorted(score_columns(config))
    assert {r["score_id"] for r in rows} == {view.run_id}
    assert {r["model_version"] for r in rows} == {artifact.rstrip("/").rsplit("/", 1)[-1]}
    # read again, and again after losing the marker (a kill between insert and marker):
    # nothing is appended twice
    with rehearsal.runner_scores() as scores:
        assert scores.get(view.run_id).detail["rows"] == len(rows)
        delete_object(rehearsal, marker_name(view.run_id))
        again = scores.get(view.run_id)
    assert again.state == "SUCCEEDED" and again.detail["rows"] == len(rows)
    assert len(destination_rows(rehearsal, config)) == len(rows)
    # the post-step ran as the runner (tests/infra/permissions.py lists these calls)
    runner = {(c["service"], c["method"], c["resource"]) for c in _calls(rehearsal)
              if c["identity"] == rehearsal.runner_account}
    bucket = rehearsal.target.bucket
    assert ("storage", "GET", f"/storage/v1/b/{bucket}/o/{marker_name(view.run_id)}") in runner
    assert ("storage", "GET", f"/storage/v1/b/{bucket}/o/baselines/baseline.json") in runner
    assert any(s == "bigquery" and m == "POST" and r.endswith("/jobs") for s, m, r in runner)


def test_a_unit_change_blocks_a_cloud_score_naming_the_feature(rehearsal, cloud_score):
    from pipelines.config.registry import load_config
    from tests.rehearsal.scoring import destination_rows

    config = load_config(MODEL)
    before = destination_rows(rehearsal, config)
    rehearsal.load_data(scale={"numeric_feature1": 1000})
    try:
        with rehearsal.runner_scores() as scores:
            view = _score(rehearsal, scores, "2026-12-07T06:00:00Z")
    finally:
        rehearsal.load_data()
    assert view.state == "FAILED" and view.detail["status"] == "blocked", view
    assert "numeric_feature1" in view.error, view.error
    assert any(f["feature"] == "numeric_feature1" and f["action"] == "block"
               for f in view.detail["findings"])
    assert len(destination_rows(rehearsal, config)) == len(before)  # nothing appended


def test_every_recorded_call_is_in_the_permission_table(rehearsal, first, second, cloud_score):
    """The permission table (tests/infra/permissions.py, taken from the code and checked
    against the plan's grants) lists every request the rehearsal saw, by identity and scope."""
    from tests.infra.recorded_calls import unlisted

    calls = _calls(rehearsal)
    assert len(calls) > 1000
    assert unlisted(calls) == []
