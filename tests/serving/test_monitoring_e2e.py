"""Monitoring what the local endpoint serves, end to end (slow: marked e2e).

basic_template is trained and deployed once; its endpoint serves eval-split rows
in three windows an hour apart: two of normal traffic, then one where
``numeric_feature1`` arrives ×1000 (a client's unit change). Each window holds
300 requests of one instance.
"""

import json
import time

import pytest
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.data import warehouse
from pipelines.data.splits import split_queries
from pipelines.pipeline.local import run_local
from pipelines.serving.monitoring import check_endpoint
from pipelines.stack.config import MonitoringSettings

pytestmark = pytest.mark.e2e
MODEL = "basic_template"
HOUR = 3600.0
SETTINGS = MonitoringSettings(sample_rate=1.0)


@pytest.fixture(scope="module")
def workspace(module_workspace):
    return module_workspace


def eval_instances(workspace, n: int) -> list[dict]:
    config = load_config(MODEL)
    sql = next(q.sql for q in split_queries(config.source, config.label_key, "duckdb")
               if q.name == "eval")
    con = warehouse.connect(workspace.warehouse, read_only=True)
    frame = con.execute(sql).df()
    con.close()
    rows = frame[list(config.raw_feature_keys)].to_dict("records")
    return [rows[i % len(rows)] for i in range(n)]


@pytest.fixture(scope="module")
def served(workspace):
    """Three windows of traffic, at ``base`` - 1.5 h, - 0.5 h and + 0.5 h (an hour ago)."""
    from pipelines.serving.rollout import open_local_endpoint

    summary = run_local(with_overrides(load_config(MODEL), train_steps=300), workspace,
                        overrides={"train_steps": 300})
    assert summary.blessed and summary.pushed_path, summary.error
    endpoint = open_local_endpoint(workspace, MODEL)
    instances = eval_instances(workspace, 300)
    base = time.time() - HOUR
    windows = {"A": base - 1.5 * HOUR, "B": base - 0.5 * HOUR, "C": base + 0.5 * HOUR}
    for name, start in windows.items():
        for instance in instances:
            if name == "C":
                instance = {**instance, "numeric_feature1": instance["numeric_feature1"] * 1000}
            endpoint.predict([instance])
        endpoint.log.query("UPDATE requests SET ts = ? + (ts - (SELECT min(ts) FROM requests "
                           "WHERE ts > ?)) / 1000 WHERE ts > ?", [start, base + HOUR,
                                                                  base + HOUR])
    endpoint.close()  # the request log is read from its file from here on
    return base


def test_traffic_like_the_eval_split_raises_no_alert(workspace, served):
    result = check_endpoint(workspace, load_config(MODEL), SETTINGS, HOUR, now=served)
    assert result.status == "ok" and result.alerts == [], result
    (window,) = result.models
    assert window.requests == 300 and window.skew == window.drift == "measured"
    assert set(window.distances["skew"]) >= {"numeric_feature1", "numeric_feature2",
                                             "categorical_feature"}
    assert max(window.distances["skew"].values()) < SETTINGS.skew_threshold


def test_a_feature_scaled_by_1000_raises_exactly_its_alerts(workspace, served):
    result = check_endpoint(workspace, load_config(MODEL), SETTINGS, HOUR, now=served + HOUR)
    assert result.status == "alert"
    assert {(a.feature, a.kind) for a in result.alerts} == {("numeric_feature1", "skew"),
                                                            ("numeric_feature1", "drift")}
    for alert in result.alerts:
        assert alert.measure == "jensen-shannon" and alert.distance > alert.threshold == 0.3
        assert alert.version == result.models[0].version
    recorded = json.loads((workspace.endpoint_dir(MODEL) / "monitoring.json").read_text())
    assert recorded["status"] == "alert" and len(recorded["alerts"]) == 2


def test_a_feature_threshold_of_its_own_applies(workspace, served):
    lenient = MonitoringSettings(sample_rate=1.0, features={
        "numeric_feature1": {"skew": 1.0, "drift": 1.0}})
    result = check_endpoint(workspace, load_config(MODEL), lenient, HOUR, now=served + HOUR)
    assert result.alerts == [] and result.status == "ok"


def test_too_few_requests_is_not_enough_data_not_an_alert(workspace, served):
    strict = MonitoringSettings(sample_rate=1.0, min_samples=1000)
    result = check_endpoint(workspace, load_config(MODEL), strict, HOUR, now=served + HOUR)
    assert result.status == "not enough data" and result.alerts == []
    assert "300 requests < min_samples 1000" in result.notes[0]
    empty = check_endpoint(workspace, load_config(MODEL), SETTINGS, HOUR, now=served - 5 * HOUR)
    assert empty.status == "not enough data" and "no request in the window" in empty.notes[0]


def test_monitor_command_and_runner_route_report_the_alert(workspace, served):
    from fastapi.testclient import TestClient

    from pipelines.cli.main import app
    from pipelines.runner.app import runner_app

    result = CliRunner().invoke(app, ["monitor", MODEL, "--window", "1h"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 3, result.output  # an alert fired
    assert "alert numeric_feature1: skew" in result.output
    assert "alert numeric_feature1: drift" in result.output
    quiet = CliRunner().invoke(app, ["monitor", MODEL, "--window", "1h", "--json"])
    assert json.loads(quiet.output)["status"] == "alert"

    client = TestClient(runner_app("local", "dev", workspace))
    checked = client.post(f"/monitoring/{MODEL}:check", params={"window": "1h"})
    assert checked.status_code == 200
    assert {a["feature"] for a in checked.json()["alerts"]} == {"numeric_feature1"}
    assert client.post("/monitoring/nope:check").status_code == 404
