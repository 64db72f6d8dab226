"""The local full cycle, end to end on the embedded warehouse (slow: marked e2e).

One workspace per module; the first blessed run (``first_run``) is a fixture, so
every test passes alone or in any selection, and checks what it needs itself:
  1. a first run is blessed, pushed and deployed, and the pushed model predicts;
  2. an unchanged run is answered from the run cache, and a forced one from
     TFX's per-component cache;
  3. a worse candidate (one training step) is not blessed; the served model stays;
  4. a candidate that misses the serving latency budget is not pushed; the served model stays;
  5. `fullcycle run` deploys a new version next to the served one at 10 %, and
     `fullcycle rollout` promotes it on the live endpoint;
  6. data whose column changed type stops before Transform; the served model stays.
"""

import json
import shutil

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.config.registry import MODELS_DIR, with_overrides
from pipelines.pipeline.baseline import read_baseline
from pipelines.pipeline.local import run_local
from pipelines.serving.model_store import LoadedModel, pushed_versions, read_instances

pytestmark = pytest.mark.e2e
STEPS = 300
INSTANCES = MODELS_DIR / "basic_template" / "instances.json"


@pytest.fixture(scope="module")
def workspace(module_workspace):
    return module_workspace


def run(workspace, steps):
    config = with_overrides(load_config("basic_template"), train_steps=steps)
    return run_local(config, workspace, overrides={"train_steps": steps})


def served(workspace):
    return pushed_versions(workspace.serving_model_dir("basic_template"))[-1]


@pytest.fixture(scope="module")
def first_run(workspace):
    """The first run of basic_template in this workspace: blessed, pushed and deployed."""
    summary = run(workspace, STEPS)
    return summary, served(workspace) if summary.pushed_path else None


def test_first_run_is_blessed_and_pushed(first_run, workspace):
    summary, version = first_run
    assert summary.succeeded, summary.error
    assert summary.split_rows == {"train": 1605, "eval": 395}
    assert summary.anomalies == []
    # the first run has no baseline; being blessed, it becomes the next run's
    assert summary.validation == {"baseline": None, "findings": [], "blocked": 0}
    assert read_baseline(str(workspace.baseline_dir("basic_template"))) is not None
    mse = next(m for m in summary.metrics if m.name == "mse")
    assert mse.value < 25 and mse.passed is True and mse.baseline is None
    assert summary.blessed is True
    assert summary.infra_validation["blessed"] is True
    assert summary.infra_validation["requests"] == 20
    assert summary.pushed_path == str(version)
    assert {c.state for c in summary.components} == {"COMPLETE"}
    # deployed as the Vertex Pusher would: the first version takes all of the endpoint
    assert summary.deployment.startswith("deployed as ") and "100 %" in summary.deployment


def test_pushed_model_predicts_the_same_through_both_signatures(first_run):
    import tensorflow as tf

    _, version = first_run
    model = LoadedModel(version)
    instances = read_instances(INSTANCES)
    raw = model.predict(instances)
    assert len(raw) == 3 and all(np.isfinite(raw))
    # Known relation: label = 3*f1 - 2*f2 + 4*calc + offset(cat) + noise; offset(dune) = 4.
    assert raw[1] == pytest.approx(3 * 8.0 - 2 * 3.0 + 4 * 1 + 4.0, abs=3.0)
    from pipelines.data.example_gen import _feature

    examples = [tf.train.Example(features=tf.train.Features(
        feature={k: _feature(v) for k, v in row.items()})).SerializeToString()
        for row in instances]
    by_example = tf.saved_model.load(str(version)).signatures["serving_tf_example"](
        examples=tf.constant(examples))["outputs"].numpy()
    assert np.allclose(by_example, raw, atol=1e-5)


def test_unchanged_run_is_answered_from_the_run_cache(workspace, first_run, tmp_path):
    from pipelines.cli.main import app

    last = run(workspace, STEPS)  # whatever ran before, this is now the last run
    assert last.succeeded, last.error
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(app, ["run", "basic_template", "--train-steps", str(STEPS),
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "answered from the run cache" in result.output
    summary = json.loads(out.read_text())
    assert summary["cache"] == "run" and summary["blessed"] is True
    assert {c["state"] for c in summary["components"]} == {"CACHED"}
    assert summary["pushed_path"] == last.pushed_path == str(served(workspace))


def test_forced_run_reuses_tfx_component_cache(workspace, first_run):
    config = with_overrides(load_config("basic_template"), train_steps=STEPS)
    summary = run_local(config, workspace, overrides={"train_steps": STEPS},
                        use_run_cache=False)
    assert summary.succeeded, summary.error
    states = {c.node_id: c.state for c in summary.components}
    for node in ("DuckDBExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                 "Transform", "Trainer"):
        assert states[node] == "CACHED", (node, states)
    # the first blessed run is now the baseline: the same data compared with it finds nothing
    assert states["DataValidator"] == "COMPLETE" and states["baseline_statistics"] == "COMPLETE"
    assert summary.validation["baseline"] is not None
    assert summary.validation["findings"] == [] and summary.anomalies == []
    assert summary.blessed is True


def test_worse_candidate_is_not_blessed_and_serving_is_unchanged(workspace, first_run):
    before = served(workspace)
    predictions = LoadedModel(before).predict(read_instances(INSTANCES))
    summary = run(workspace, 1)
    assert summary.succeeded, summary.error
    states = {c.node_id: c.state for c in summary.components}
    assert states["Transform"] == "CACHED" and states["Trainer"] == "COMPLETE"
    assert summary.blessed is False and summary.pushed_path is None
    mse = next(m for m in summary.metrics if m.name == "mse")
    assert mse.passed is False and mse.baseline is not None and mse.value > mse.baseline + 1
    assert served(workspace) == before
    assert LoadedModel(served(workspace)).predict(read_instances(INSTANCES)) == \
        pytest.approx(predictions)


def test_candidate_missing_the_latency_budget_is_not_pushed(workspace, first_run):
    before = served(workspace)
    config = with_overrides(load_config("basic_template"), train_steps=STEPS)
    budget = config.infra_validation.model_copy(update={"max_latency_ms": 1e-6})
    config = config.model_copy(update={"infra_validation": budget})
    summary = run_local(config, workspace, overrides={"train_steps": STEPS},
                        use_run_cache=False)
    assert summary.succeeded, summary.error
    assert summary.blessed is True  # the Evaluator is satisfied; serving is not
    assert summary.infra_validation["blessed"] is False
    assert "exceeds the budget" in summary.infra_validation["reason"]
    assert summary.pushed_path is None and served(workspace) == before


def test_run_deploys_a_canary_and_rollout_promotes_it(workspace, first_run):
    from pipelines.cli.main import app
    from pipelines.serving.endpoint import LocalEndpoint
    from pipelines.serving.endpoint_app import create_endpoint_app
    from pipelines.serving.rollout import deploy_pushed, register_server, unregister_server
    from tests.support.servers import serve

    # The endpoint serves only the latest pushed version (earlier tests pushed more than one).
    stable = served(workspace)
    shutil.rmtree(workspace.endpoint_dir("basic_template"), ignore_errors=True)
    assert "with 100 % of traffic" in deploy_pushed(workspace, "basic_template", str(stable), 10)
    result = CliRunner().invoke(app, ["run", "basic_template", "--train-steps", str(STEPS + 1)])
    assert result.exit_code == 0, result.output
    assert "with 10 % of traffic" in result.output
    candidate = served(workspace)
    assert candidate != stable
    root = workspace.endpoint_dir("basic_template")
    url, server = serve(create_endpoint_app(LocalEndpoint(root)))
    register_server(root, url)
    try:
        result = CliRunner().invoke(app, ["rollout", "basic_template", "--interval", "5",
                                          "--rate", "100", "--min-samples", "5"])
        assert result.exit_code == 0, result.output
        assert "promoted" in result.output and result.output.count("-> pass") == 3
        endpoint = httpx.get(f"{url}/v1/projects/local/locations/local/endpoints/"
                             "basic_template").json()
        assert [m["model"] for m in endpoint["deployedModels"]] == [str(candidate)]
        assert list(endpoint["trafficSplit"].values()) == [100]
    finally:
        unregister_server(root)
        server.should_exit = True


def test_column_type_change_stops_before_training(workspace, first_run, seeded_warehouse):
    from pipelines.data import warehouse

    before = served(workspace)
    con = warehouse.connect(workspace.warehouse, read_only=False)
    con.execute("ALTER TABLE basic_template ALTER numeric_feature2 TYPE VARCHAR")
    con.execute("UPDATE basic_template SET numeric_feature2 = 'n/a' WHERE id % 10 = 0")
    con.close()
    try:
        summary = run(workspace, STEPS)
    finally:  # the next test (in any order) gets the seeded data back
        shutil.copy(seeded_warehouse, workspace.warehouse)
    assert not summary.succeeded
    assert "data validation failed" in summary.error
    assert "column 'numeric_feature2' has type BYTES" in summary.error
    states = {c.node_id: c.state for c in summary.components}
    assert states["DataGate"] == "FAILED"
    assert states["Transform"] == states["Trainer"] == states["Pusher"] == "NOT_RUN"
    assert served(workspace) == before


def test_missing_values_are_served_as_they_were_trained(workspace, first_run):
    """A missing feature takes the transform's own rule, through every way of serving."""
    import httpx
    import tensorflow as tf

    from pipelines.data import warehouse
    from pipelines.data.example_gen import _feature
    from pipelines.data.splits import split_queries
    from pipelines.serving.endpoint import LocalEndpoint
    from pipelines.serving.endpoint_app import create_endpoint_app
    from pipelines.stack.names import local_endpoint_path
    from tests.support.servers import serve

    _, version = first_run
    config = load_config("basic_template")
    train = next(q for q in split_queries(config.source, config.label_key, "duckdb")
                 if q.name == "train")
    con = warehouse.connect(workspace.warehouse)
    (mean,) = con.execute(f"SELECT AVG(numeric_feature2) FROM ({train.sql})").fetchone()
    con.close()
    row = {"numeric_feature1": 4.0, "numeric_feature2": 6.5, "categorical_calculated": 1,
           "categorical_feature": "blue"}
    absent = {k: v for k, v in row.items() if k != "numeric_feature2"}
    rows = [absent, {**row, "numeric_feature2": None}, {**row, "numeric_feature2": mean},
            {**row, "categorical_calculated": None}, {**row, "categorical_calculated": 2}]
    model = LoadedModel(version)
    raw = model.predict(rows)
    assert raw[0] == pytest.approx(raw[1]) and raw[1] == pytest.approx(raw[2], abs=1e-4)
    assert raw[3] == pytest.approx(raw[4])  # a missing id is the out-of-range id
    assert raw[0] != pytest.approx(model.predict([{**row, "numeric_feature2": 0.0}])[0])
    examples = [tf.train.Example(features=tf.train.Features(feature={
        k: _feature(v) for k, v in r.items() if v is not None})).SerializeToString()
        for r in rows]
    by_example = tf.saved_model.load(str(version)).signatures["serving_tf_example"](
        examples=tf.constant(examples))["outputs"].numpy()
    assert np.allclose(by_example, raw, atol=1e-4)

    endpoint = LocalEndpoint(workspace.home / "parity-endpoint")
    endpoint.deploy(str(version), {"0": 100})
    url, server = serve(create_endpoint_app(endpoint))
    predict = f"{url}{local_endpoint_path('basic_template')}:predict"
    try:
        answer = httpx.post(predict, json={"instances": rows[:3]}).json()
        assert answer["predictions"] == pytest.approx(raw[:3], abs=1e-4)
        for bad, words in (({**row, "categorical_calculated": 2**70}, "an int64"),
                           ({**row, "numeric_feature1": [1.0, 2.0]}, "one float number")):
            refused = httpx.post(predict, json={"instances": [bad]})
            assert refused.status_code == 400, refused.text
            message = refused.json()["error"]["message"]
            name = "categorical_calculated" if "int64" in words else "numeric_feature1"
            assert f"feature '{name}' of instance 0" in message and words in message
    finally:
        server.should_exit = True
