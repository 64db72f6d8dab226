"""The run report and the model card, from real runs (slow: marked e2e).

One workspace for the module: a blessed run of basic_template with a model card
in its config (``blessed_run``), and a run stopped by the data gate after a
column changed type (``stopped_run``). Every test builds what it needs from those.
"""

import json
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.data import warehouse
from pipelines.pipeline.local import run_local

pytestmark = pytest.mark.e2e
MODEL = "basic_template"
CARD = {"description": "Predicts the label of the synthetic basic_template rows.",
        "owners": ["ml-platform@example.com"], "intended_use": "Demonstrations and tests.",
        "limitations": ["Trained on synthetic data only."]}


@pytest.fixture(scope="module")
def workspace(module_workspace):
    return module_workspace


@pytest.fixture(scope="module")
def blessed_run(workspace):
    config = with_overrides(load_config(MODEL), train_steps=300, model_card=CARD)
    summary = run_local(config, workspace, overrides={"train_steps": 300})
    assert summary.blessed is True, summary.error
    return summary


@pytest.fixture(scope="module")
def stopped_run(workspace, blessed_run, seeded_warehouse):
    con = warehouse.connect(workspace.warehouse, read_only=False)
    con.execute("ALTER TABLE basic_template ALTER numeric_feature2 TYPE VARCHAR")
    con.close()
    try:
        summary = run_local(with_overrides(load_config(MODEL), train_steps=300), workspace,
                            overrides={"train_steps": 300})
    finally:
        shutil.copy(seeded_warehouse, workspace.warehouse)
    assert not summary.succeeded and summary.error.startswith("DataGate failed")
    return summary


def page(summary) -> BeautifulSoup:
    assert summary.report and Path(summary.report).is_file(), summary.report
    return BeautifulSoup(Path(summary.report).read_text(), "html.parser")


def section(soup: BeautifulSoup, name: str) -> str:
    return " ".join(soup.find("section", id=name).get_text(" ").split())


def test_report_of_a_blessed_run_holds_its_figures(blessed_run):
    soup = page(blessed_run)
    header = " ".join(soup.header.get_text(" ").split())
    version = Path(blessed_run.pushed_path).name
    assert "blessed" in header and f"pushed {version}" in header
    assert blessed_run.run_id in header
    for component in blessed_run.components:  # duration per component
        assert component.node_id in header
    data = section(soup, "data")
    assert "train 1605" in data and "eval 395" in data
    columns = {row.find("code").get_text(): row for row in soup.select("#data tbody tr")
               if row.find("code")}
    assert set(columns) >= {"numeric_feature1", "numeric_feature2", "categorical_feature",
                            "label"}
    assert columns["numeric_feature1"].select_one("svg.spark rect") is not None  # histogram
    assert "0.0%" in columns["numeric_feature1"].get_text()  # missing fraction
    training = soup.find("section", id="training")
    curve = training.select_one("svg polyline.curve")
    assert curve is not None and len(curve["points"].split()) == 10  # 300 steps: 10 epochs
    evaluation = section(soup, "evaluation")
    mse = next(m for m in blessed_run.metrics if m.name == "mse")
    assert f"mse {mse.value:.4g}" in evaluation and "pass" in evaluation
    assert "categorical_feature=amber" in evaluation  # eval_slices, reported
    infra = section(soup, "infra")
    assert "passed" in infra and "20 requests" in infra
    assert blessed_run.pushed_path in section(soup, "deployment")
    card = section(soup, "model-card")
    assert CARD["description"] in card and "ml-platform@example.com" in card
    assert "Trained on synthetic data only." in card


def test_model_card_is_written_beside_the_pushed_model(blessed_run):
    card = (Path(blessed_run.pushed_path) / "model_card.md").read_text()
    mse = next(m for m in blessed_run.metrics if m.name == "mse")
    assert card.startswith(f"# Model card: {MODEL} (version "
                           f"{Path(blessed_run.pushed_path).name})")
    assert CARD["description"] in card and "| Owners | ml-platform@example.com |" in card
    assert f"| mse | {mse.value:.4g} |" in card
    assert "Rows per split: eval 395, train 1605." in card
    assert "- Trained on synthetic data only." in card


def test_report_of_a_run_stopped_by_the_gate_shows_findings_and_no_evaluation(stopped_run):
    soup = page(stopped_run)
    assert "stopped" in soup.header.get_text() and "DataGate failed" in soup.header.get_text()
    findings = [" ".join(r.get_text(" ").split()) for r in soup.select("#data tbody tr")
                if "failrow" in (r.get("class") or [])]
    assert any("numeric_feature2" in f and "declared" in f for f in findings), findings
    assert "Not evaluated in this run (stopped before the Evaluator)" in section(
        soup, "evaluation")
    assert soup.select("#evaluation table") == []
    assert "Not trained in this run" in section(soup, "training")
    assert "Nothing was pushed" in section(soup, "deployment")


def test_runs_lists_the_runs_newest_first(workspace, blessed_run, stopped_run, tmp_path):
    from pipelines.cli.main import app

    result = CliRunner().invoke(app, ["runs", MODEL, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["run_id"] for r in rows[:2]] == [stopped_run.run_id, blessed_run.run_id]
    stopped, blessed = rows[0], rows[1]
    assert stopped["blessed"] is None and stopped["error"].startswith("DataGate failed")
    assert blessed["blessed"] is True and blessed["metric"] == "mse"
    assert blessed["pushed_version"] == Path(blessed_run.pushed_path).name
    assert blessed["rows"] == {"eval": 395, "train": 1605}
    assert blessed["cached_components"] == 0 and blessed["components"] > 10
    table = CliRunner().invoke(app, ["runs", MODEL], env={"COLUMNS": "200"})
    assert blessed_run.run_id in table.output and "DataGate" not in table.output

    out = tmp_path / "first.html"
    result = CliRunner().invoke(app, ["report", MODEL, "--run", blessed_run.run_id, "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert blessed_run.run_id in out.read_text()


def test_unknown_run_id_is_a_clear_error_listing_the_latest(workspace, blessed_run):
    from pipelines.cli.main import app

    result = CliRunner().invoke(app, ["report", MODEL, "--run", "2020-01-01T00:00:00"])
    assert result.exit_code == 2
    assert f"model {MODEL!r} has no run '2020-01-01T00:00:00'" in result.output
    assert blessed_run.run_id in result.output and f"fullcycle runs {MODEL}" in result.output


def test_runner_serves_the_report(workspace, blessed_run):
    from fastapi.testclient import TestClient

    from pipelines.runner.app import runner_app
    from pipelines.runner.runs import run_id_for
    from pipelines.runner.store import RunStore

    app = runner_app("local", "dev", workspace)
    store = RunStore(workspace.home / "runner" / "runs-local.sqlite")
    done, _ = store.create_or_get(run_id_for(MODEL)[0], MODEL, "manual")
    store.update(done.id, state="SUCCEEDED",
                 detail=json.dumps({"pipeline_run_id": blessed_run.run_id}))
    queued, _ = store.create_or_get(run_id_for(MODEL)[0], MODEL, "manual")
    client = TestClient(app)
    response = client.get(f"/runs/{done.id}/report")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/html")
    assert blessed_run.run_id in response.text and "Model card" in response.text
    assert client.get(f"/runs/{queued.id}/report").status_code == 409
    assert client.get("/runs/nope/report").json() == {"error": "unknown run 'nope'"}


def test_report_renders_offline_in_headless_chromium(blessed_run, tmp_path):
    from tests.support.browser import CHROMIUM, pixel_spread, visit

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    shown = visit(Path(blessed_run.report))
    assert shown.console_errors == []
    assert shown.requests == [Path(blessed_run.report).resolve().as_uri()]  # nothing else
    assert pixel_spread(shown.screenshot) > 10  # not a blank page
