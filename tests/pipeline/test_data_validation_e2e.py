"""Data validation that remembers, end to end (slow: marked e2e).

basic_template is blessed once (its data becomes the baseline); then its table
is changed the ways real data goes wrong, and each run is stopped before
Transform with the finding named, the served version and the endpoint as they
were. With the check's action set to ``warn`` the same run is reported and goes on.
"""

import json
import shutil

import pytest

from pipelines.config import Check, DataValidation, load_config
from pipelines.config.registry import with_overrides
from pipelines.data import warehouse
from pipelines.pipeline.baseline import read_baseline
from pipelines.pipeline.local import run_local
from pipelines.serving.model_store import pushed_versions

pytestmark = pytest.mark.e2e
MODEL = "basic_template"
STEPS = 300

SCENARIOS = {
    "null flood": (
        ["UPDATE basic_template SET numeric_feature2 = NULL WHERE id % 10 <> 0"],
        [("numeric_feature2", "missing_fraction")]),
    "unit change": (
        ["UPDATE basic_template SET numeric_feature1 = numeric_feature1 * 1000",
         "UPDATE basic_template SET numeric_feature2 = numeric_feature2 + 50"],
        [("numeric_feature1", "drift"), ("numeric_feature2", "drift")]),
    "unseen values": (
        ["UPDATE basic_template SET categorical_feature = 'new_' || (id % 40) WHERE id % 2 = 0"],
        [("categorical_feature", "drift")]),
    "type change": (
        ["ALTER TABLE basic_template ALTER numeric_feature2 TYPE VARCHAR",
         "UPDATE basic_template SET numeric_feature2 = 'n/a' WHERE id % 10 = 0"],
        [("numeric_feature2", "declared"), ("numeric_feature2", "type_and_domain")]),
    "10x rows": (
        ["INSERT INTO basic_template SELECT id + k * 1000000, numeric_feature1, numeric_feature2,"
         " categorical_calculated, categorical_feature, label FROM basic_template, range(1, 10)"
         " AS r(k)"],
        [("*", "example_count")]),
}


@pytest.fixture(scope="module")
def workspace(module_workspace):
    return module_workspace


def run(workspace, steps=STEPS, **changes):
    config = with_overrides(load_config(MODEL), train_steps=steps, **changes)
    return run_local(config, workspace, overrides={"train_steps": steps, **changes})


@pytest.fixture(scope="module")
def blessed(workspace):
    """The first run: no baseline, blessed, pushed, deployed; its data is the baseline now."""
    summary = run(workspace)
    assert summary.blessed is True, summary.error
    assert summary.validation == {"baseline": None, "findings": [], "blocked": 0}
    return summary


@pytest.fixture
def changed(workspace, seeded_warehouse, request):
    """The table changed as the scenario says; the seeded data is back afterwards."""
    con = warehouse.connect(workspace.warehouse, read_only=False)
    for sql in SCENARIOS[request.param][0]:
        con.execute(sql)
    con.close()
    yield request.param
    shutil.copy(seeded_warehouse, workspace.warehouse)


def state(workspace):
    """What must not move when a run is stopped: served version, endpoint, baseline."""
    endpoint = workspace.endpoint_dir(MODEL) / "endpoint.json"
    return (pushed_versions(workspace.serving_model_dir(MODEL))[-1],
            json.loads(endpoint.read_text()),
            read_baseline(str(workspace.baseline_dir(MODEL))))


@pytest.mark.parametrize("changed", list(SCENARIOS), indirect=True)
def test_bad_data_is_stopped_before_transform(workspace, blessed, changed):
    before = state(workspace)
    summary = run(workspace)
    assert not summary.succeeded
    assert summary.error.startswith("DataGate failed: data validation failed")
    assert "full log: " in summary.error and summary.log.endswith(".log")
    states = {c.node_id: c.state for c in summary.components}
    assert states["DataValidator"] == "COMPLETE" and states["DataGate"] == "FAILED"
    assert states["Transform"] == states["Trainer"] == states["Pusher"] == "NOT_RUN"
    found = {(f["feature"], f["check"]) for f in summary.validation["findings"]
             if f["action"] == "block"}
    for expected in SCENARIOS[changed][1]:
        assert expected in found, (expected, summary.anomalies)
    assert summary.validation["baseline"]["version"] == before[2].version
    finding = next(f for f in summary.validation["findings"]
                   if (f["feature"], f["check"]) == SCENARIOS[changed][1][0])
    if finding["value"] is not None:  # measured: value over threshold, baseline against now
        assert finding["value"] > finding["threshold"] and finding["baseline"] != finding["now"]
    assert state(workspace) == before


@pytest.mark.parametrize("changed", ["null flood"], indirect=True)
def test_a_warn_action_reports_and_the_run_goes_on(workspace, blessed, changed):
    warn = DataValidation(missing_fraction=Check(threshold=0.1, action="warn"))
    summary = run(workspace, data_validation=warn.model_dump())
    assert summary.succeeded, summary.error
    missing = [f for f in summary.validation["findings"] if f["check"] == "missing_fraction"]
    assert {f["split"] for f in missing} == {"train", "eval"}  # each split is compared
    for finding in missing:
        assert finding["feature"] == "numeric_feature2" and finding["action"] == "warn"
        assert finding["baseline"] == "0.0% missing" and 0.85 < finding["value"] < 0.95
    assert summary.validation["blocked"] == 0
    states = {c.node_id: c.state for c in summary.components}
    # the Evaluator and the InfraValidator served rows without numeric_feature2
    assert states["Evaluator"] == states["InfraValidator"] == "COMPLETE"
    assert summary.infra_validation["blessed"] is True


def test_the_baseline_moves_only_when_a_run_is_blessed(workspace, blessed):
    before = read_baseline(str(workspace.baseline_dir(MODEL)))
    worse = run(workspace, steps=1)
    assert worse.succeeded and worse.blessed is False
    assert read_baseline(str(workspace.baseline_dir(MODEL))) == before


def test_schema_shows_and_exports_the_baseline_schema(workspace, blessed, request):
    from typer.testing import CliRunner

    from pipelines.cli.main import app
    from pipelines.models.basic_template import config as template

    shown = CliRunner().invoke(app, ["schema", MODEL])
    assert shown.exit_code == 0, shown.output
    assert "Baseline schema of basic_template" in shown.output
    for words in ("numeric_feature2", "FLOAT", "categorical_feature", "BYTES", "amber"):
        assert words in shown.output
    none = CliRunner().invoke(app, ["schema", "taxi_tips"])
    assert none.exit_code == 2 and "'taxi_tips' has no baseline yet" in none.output
    models_package = request.getfixturevalue("models_package")  # a folder we may write to
    folder = models_package(MODEL, open(template.__file__).read())
    exported = CliRunner().invoke(app, ["schema", MODEL, "--export"])
    assert exported.exit_code == 0, exported.output
    assert 'name: "numeric_feature2"' in (folder / "schema.pbtxt").read_text()
    again = CliRunner().invoke(app, ["schema", MODEL, "--export"])
    assert again.exit_code == 2 and "already exists" in again.output
