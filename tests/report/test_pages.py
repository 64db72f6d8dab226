"""The report page and the run history, from a run record made by hand (fast).

What needs real artifacts (statistics, training history, TFMA slices) is checked
by ``test_report_e2e.py``; here: the verdict, fairness table and chart, the
canary timeline, the model card, and finding runs.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup

from pipelines.config import Fairness, FullcycleError, fairness_metric, load_config
from pipelines.config.registry import with_overrides
from pipelines.pipeline.fairness import Counts, judge
from pipelines.pipeline.summary import ComponentResult, MetricResult, RunSummary
from pipelines.report.pages import write_report
from pipelines.report.runs import RunRecord, find_run, list_runs, record_run
from pipelines.settings import Workspace

MODEL = "basic_template"
FAIRNESS = Fairness(slice_by=["categorical_feature"], min_slice_size=5,
                    metrics=[fairness_metric("mae", max_gap=0.5)])


@pytest.fixture
def workspace(tmp_path):
    return Workspace(home=tmp_path / "home", warehouse=tmp_path / "warehouse.duckdb")


def counts(errors):
    c = Counts()
    for e in errors:
        c.add("regression", np.array([0.0]), np.array([e]), 0.5)
    return c


def summary_of(run_id: str, started: float, pushed: Path | None, **extra) -> RunSummary:
    good, bad = counts([0.1] * 20), counts([2.0] * 6)
    overall = counts([0.1] * 20 + [2.0] * 6)
    report = judge(FAIRNESS, overall, {("categorical_feature", "amber"): good,
                                       ("categorical_feature", "blue"): bad,
                                       ("categorical_feature", "coral"): counts([3.0] * 2)})
    return RunSummary(
        model=MODEL, run_id=run_id, seconds=42.0, started_at=started,
        components=[ComponentResult("Trainer", "COMPLETE", 3.5),
                    ComponentResult("Transform", "CACHED", None)],
        split_rows={"train": 104, "eval": 26},
        metrics=[MetricResult("mse", 1.25, 1.5, None, 25.0, 1.0, True),
                 MetricResult("accuracy", 0.0, note="not meaningful for a regression "
                                                    "label (exact match only)")],
        fairness=report, blessed=False, pushed_path=str(pushed) if pushed else None,
        infra_validation={"blessed": True, "requests": 20, "latency_p50_ms": 1.0,
                          "latency_p99_ms": 2.5, "load_seconds": 0.8}, **extra)


def config():
    return with_overrides(load_config(MODEL), fairness=FAIRNESS,
                          model_card={"description": "A demo.", "owners": ["ds"]})


def test_page_shows_verdict_fairness_chart_and_no_artifact_sections(workspace):
    summary = summary_of("r1", 1_800_000_000.0, None)
    path = write_report(workspace, RunRecord(summary, config().model_dump(mode="json")))
    soup = BeautifulSoup(path.read_text(), "html.parser")
    assert "not blessed" in soup.header.get_text() and "not pushed" in soup.header.get_text()
    metrics = {r.td.get_text(): r for r in soup.select("#evaluation table")[0].select("tbody tr")}
    assert metrics["accuracy"].select("td")[-1].get_text() == \
        "not meaningful for a regression label (exact match only)"
    assert metrics["mse"].select("td")[-1].get_text() == "pass"
    rows = {r.td.get_text(): r for r in soup.select("#evaluation table")[1].select("tbody tr")}
    assert "fail" in rows["categorical_feature=blue"].get_text()
    assert "not gated" in rows["categorical_feature=coral"].get_text()  # 2 < 5 examples
    bars = soup.select("#evaluation svg rect.bar")
    assert [b["class"][1] for b in bars] == ["pass", "fail", "small"]
    assert "blue" in soup.select_one("#evaluation ul.failures").get_text()
    assert "Not trained in this run" in soup.find("section", id="training").get_text()
    assert "Nothing was pushed" in soup.find("section", id="deployment").get_text()


def test_canary_timeline_of_the_deployed_version(workspace, tmp_path):
    from pipelines.serving.rollout import FileRolloutStore

    pushed = tmp_path / "serving" / "1796000000"
    pushed.mkdir(parents=True)
    window = {"samples": 40, "error_rate": 0.0, "latency_p99_ms": 3.0,
              "mean_prediction": 7.0, "std_prediction": 1.0, "mse": None}
    workspace.rollout_state(MODEL).parent.mkdir(parents=True)
    FileRolloutStore(workspace.rollout_state(MODEL)).save({
        "stable_id": "d1", "candidate_id": "d2", "started": 1_800_000_100.0,
        "last_tick": 1_800_000_300.0, "step": 3, "failed": 0, "status": "promoted",
        "reason": None, "history": [
            {"at": 1_800_000_200.0, "weight": 10, "result": "pass", "candidate": window,
             "stable": window},
            {"at": 1_800_000_300.0, "weight": 25, "result": "pass", "candidate": window,
             "stable": window}]})
    summary = summary_of("r1", 1_800_000_000.0, pushed,
                         deployment="deployed as d2 with 10 % of traffic; `fullcycle "
                                    "rollout basic_template` runs the canary")
    path = write_report(workspace, RunRecord(summary, config().model_dump(mode="json")))
    soup = BeautifulSoup(path.read_text(), "html.parser")
    deployment = soup.find("section", id="deployment")
    assert "promoted" in deployment.h3.get_text()
    timeline = [[td.get_text() for td in r.find_all("td")] for r in deployment.select("tbody tr")]
    assert [row[1:4] for row in timeline] == [["10", "40", "0.0%"], ["25", "40", "0.0%"]]
    assert timeline[0][5] == "0"  # no prediction shift between identical windows
    card = (pushed / "model_card.md").read_text()
    assert "A demo." in card and "| Owners | ds |" in card
    assert "- fails: categorical_feature=blue: mae 2 is" in card
    assert "- Not gated for fairness: categorical_feature=coral (2 eval examples)." in card


def test_runs_are_listed_newest_first_and_found_by_id(workspace):
    for run_id, started in (("r1", 1_800_000_000.0), ("r3", 1_800_000_900.0),
                            ("r2", 1_800_000_500.0)):
        record_run(workspace, config(), summary_of(run_id, started, None))
    cached = summary_of("r3", 1_800_001_000.0, None, cache="run")
    record_run(workspace, config(), cached)  # an answer from the run cache is not a run
    assert [r.run_id for r in list_runs(workspace, MODEL)] == ["r3", "r2", "r1"]
    assert find_run(workspace, MODEL).run_id == "r3"
    assert find_run(workspace, MODEL, "r1").summary.started_at == 1_800_000_000.0
    with pytest.raises(FullcycleError, match=r"no run 'r9'; the latest: r3, r2, r1 "
                                             r"\(`fullcycle runs basic_template` lists"):
        find_run(workspace, MODEL, "r9")


def test_a_model_without_runs_is_a_clear_error(workspace):
    with pytest.raises(FullcycleError, match=f"model '{MODEL}' has no recorded runs in "
                                             f".*`fullcycle run {MODEL}` makes one"):
        find_run(workspace, MODEL)
    assert json.dumps([r.run_id for r in list_runs(workspace, MODEL)]) == "[]"


def history_run(tmp_path, record: dict) -> str:
    folder = tmp_path / "model_run"
    folder.mkdir()
    (folder / "history.json").write_text(json.dumps(record))
    return str(folder)


def test_loss_chart_holds_the_validation_curve_on_a_log_axis_and_zeros_get_no_chart(
        workspace, tmp_path):
    losses = [13.9, 1.5, 1.25, 1.12, 1.1]
    run = history_run(tmp_path, {
        "steps_per_epoch": None, "epochs_per_point": 25, "validated_at": [1, 2, 3, 4, 5],
        "metrics": {"loss": losses, "val_loss": [14.2, 1.6, 1.3, 1.2, 1.18],
                    "accuracy": [0.0] * 5, "val_accuracy": [0.0] * 5}})
    summary = summary_of("r1", 1_800_000_000.0, None, artifacts={"model_run": run})
    path = write_report(workspace, RunRecord(summary, config().model_dump(mode="json")))
    training = BeautifulSoup(path.read_text(), "html.parser").find("section", id="training")
    (chart,) = training.select("figure")
    curves = {c["class"][1]: c["points"].split() for c in chart.select("polyline.curve")}
    assert set(curves) == {"training", "validation"}
    assert len(curves["training"]) == len(curves["validation"]) == 5
    assert chart.figcaption.get_text() == "loss: training, validation (log scale)"
    ticks = [t.get_text() for t in chart.select("text.tick")]
    assert "epoch 25" in ticks and "epoch 125" in ticks  # 5 points of 25 epochs
    assert ticks[:2] == ["14.2", "1.1"]
    # On the log axis the tail is readable: 1.5 and 1.1 are a fifth of the height apart
    # (on a linear one, 13.9 would squeeze them into 3 %).
    ys = [float(point.split(",")[1]) for point in curves["training"]]
    top, bottom = min(ys), max(ys)
    assert (ys[4] - ys[1]) / (bottom - top) > 0.1
    assert "Not charted, 0 at every point: accuracy." in training.get_text()


def test_a_history_validated_only_at_the_end_draws_one_validation_dot(workspace, tmp_path):
    run = history_run(tmp_path, {"steps_per_epoch": 30, "epochs_per_point": 1, "metrics": {
        "loss": [2.0, 1.8, 1.7], "val_loss": [1.9]}})  # a record from before validated_at
    summary = summary_of("r1", 1_800_000_000.0, None, artifacts={"model_run": run})
    path = write_report(workspace, RunRecord(summary, config().model_dump(mode="json")))
    chart = BeautifulSoup(path.read_text(), "html.parser").select_one("#training figure")
    training, validation = chart.select("circle.training"), chart.select("circle.validation")
    assert len(training) == 3 and len(validation) == 1
    assert validation[0]["cx"] == training[-1]["cx"]
    assert "log scale" not in chart.figcaption.get_text()
