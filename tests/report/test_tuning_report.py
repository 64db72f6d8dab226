"""The report and ``fullcycle runs`` say which hyperparameters a run trained with (fast)."""

import pytest
from bs4 import BeautifulSoup

from pipelines.cli.render_tuning import hyperparameters_line, trials_table
from pipelines.config import load_config
from pipelines.pipeline.summary import RunSummary
from pipelines.report.pages import write_report
from pipelines.report.runs import RunRecord, run_row
from pipelines.settings import Workspace

VALUES = {"learning_rate": 0.0123456, "dnn_hidden_units": [32, 16]}
TUNED = {"version": "1700000000000", "recorded_at": 1.7e9, "uri": "/x/hyperparameters",
         "values": VALUES, "objective": "val_loss", "score": 1.25, "source": "/t",
         "trials": [{"trial_id": "0", "values": {"learning_rate": 0.5,
                                                 "dnn_hidden_units": [16, 8]},
                     "score": 9.5, "seconds": 2.25, "status": "COMPLETED"},
                    {"trial_id": "1", "values": VALUES, "score": 1.25, "seconds": 3.5,
                     "status": "COMPLETED"},
                    {"trial_id": "2", "values": {"learning_rate": 0.9,
                                                 "dnn_hidden_units": [16, 8]},
                     "score": None, "seconds": None, "status": "INVALID", "error": "NaN"}]}


@pytest.fixture
def workspace(tmp_path):
    return Workspace(home=tmp_path / "home", warehouse=tmp_path / "warehouse.duckdb")


def record(hyperparameters):
    summary = RunSummary(model="basic_template", run_id="r1", seconds=3.0, started_at=1.7e9,
                         hyperparameters=hyperparameters)
    return RunRecord(summary, load_config("basic_template").model_dump(mode="json"))


def test_the_report_lists_the_trials_and_marks_the_best(workspace):
    page = BeautifulSoup(write_report(workspace, record(TUNED)).read_text(), "html.parser")
    section = page.find(id="hyperparameters").parent
    assert "Tuned (version 1700000000000" in section.text
    assert "learning_rate 0.01235, dnn_hidden_units [32, 16]" in section.text
    rows = [[td.text for td in tr.find_all("td")] for tr in section.find("table").tbody("tr")]
    assert rows[0] == ["0", "0.5", "[16, 8]", "9.5", "2.25", "completed"]
    assert rows[1][-1] == "best" and rows[1][3] == "1.25"
    assert rows[2][-1] == "invalid" and rows[2][3] == "-"


def test_an_untuned_run_says_the_config_values_were_used(workspace):
    page = BeautifulSoup(write_report(workspace, record(None)).read_text(), "html.parser")
    assert page.find(id="hyperparameters") is None
    assert "the config's own (the model has no tuning result: fullcycle tune basic_template" \
        in " ".join(page.get_text().split())


def test_summary_line_runs_row_and_cli_table():
    assert hyperparameters_line(None) is None
    assert hyperparameters_line(TUNED) == ("tuned (version 1700000000000, val_loss 1.25): "
                                           "learning_rate=0.0123, dnn_hidden_units=[32, 16]")
    assert run_row(record(TUNED))["tuned"] == "1700000000000"
    assert run_row(record(None))["tuned"] is None
    table = trials_table(TUNED)
    assert [c.header for c in table.columns][:4] == ["trial", "learning_rate",
                                                     "dnn_hidden_units", "val_loss"]
    assert list(table.columns[-1].cells) == ["", "[green]best[/]", "[red]INVALID[/]"]


KEPT = {**TUNED, "values": {}, "adopted": False, "score": 1.1,
        "decision": "no trial beat the config's own values in every fold",
        "trials": [{"trial_id": "config", "values": {"learning_rate": 0.01,
                                                     "dnn_hidden_units": [6, 3]},
                    "score": 1.1, "fold_scores": [1.0, 1.2], "seconds": 2.0,
                    "status": "COMPLETED"}, *TUNED["trials"]]}


def test_a_tuning_that_kept_the_configs_values_says_so_everywhere(workspace):
    assert hyperparameters_line(KEPT) == (
        "the config's own (tuning version 1700000000000 kept them: no trial beat the "
        "config's own values in every fold)")
    assert run_row(record(KEPT))["tuned"] is None  # `fullcycle runs`: not tuned values
    table = trials_table(KEPT)
    assert [c.header for c in table.columns][1:3] == ["learning_rate", "dnn_hidden_units"]
    assert list(table.columns[-1].cells)[:2] == ["[green]kept[/]", ""]
    page = BeautifulSoup(write_report(workspace, record(KEPT)).read_text(), "html.parser")
    section = page.find(id="hyperparameters").parent
    text = " ".join(section.text.split())
    assert "The config's own: the tuning (version 1700000000000" in text
    assert "kept them: no trial beat the config's own values in every fold" in text
    rows = [[td.text for td in tr.find_all("td")] for tr in section.find("table").tbody("tr")]
    assert rows[0][:3] == ["config", "0.01", "[6, 3]"] and rows[0][-1] == "kept"
    assert [row[-1] for row in rows[1:]] == ["completed", "completed", "invalid"]
