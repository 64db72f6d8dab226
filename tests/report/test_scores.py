"""Recent scores in the run report and in ``fullcycle runs`` (records made by hand: fast)."""

from bs4 import BeautifulSoup
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.report.pages import write_report
from pipelines.report.runs import RunRecord
from pipelines.report.scores import ScoreSummary, list_scores, record_score
from tests.report.test_pages import MODEL, config, summary_of

BLOCKING = {"split": "score vs train", "feature": "numeric_feature1", "check": "drift",
            "value": 0.7, "threshold": 0.1, "baseline": "mean 5", "now": "mean 5000",
            "action": "block", "detail": "jensen-shannon"}


def record_two(workspace) -> tuple[ScoreSummary, ScoreSummary]:
    scored = ScoreSummary("s1", MODEL, "1796000000", "basic_template_predictions",
                          1_800_000_100.0, "scored", rows=2000, seconds=1.5, baseline="17")
    blocked = ScoreSummary("s2", MODEL, "1796000000", "basic_template_predictions",
                           1_800_000_200.0, "blocked", baseline="17", findings=[BLOCKING])
    record_score(workspace, scored)
    record_score(workspace, blocked)
    return scored, blocked


def test_the_report_lists_the_model_s_recent_scores(workspace):
    record_two(workspace)
    summary = summary_of("r1", 1_800_000_000.0, None)
    path = write_report(workspace, RunRecord(summary, config().model_dump(mode="json")))
    section = BeautifulSoup(path.read_text(), "html.parser").find("section", id="scores")
    rows = [[td.get_text() for td in tr.select("td")] for tr in section.select("tbody tr")]
    assert [r[0] for r in rows] == ["s2", "s1"]  # newest first
    assert rows[0][2] == "blocked" and rows[0][7] == "1 blocking"
    assert rows[1][2:5] == ["scored", "1796000000", "2000"]


def test_runs_lists_scores_after_the_runs(workspace, monkeypatch):
    monkeypatch.setenv("FULLCYCLE_HOME", str(workspace.home))
    record_two(workspace)
    assert [s.score_id for s in list_scores(workspace, MODEL, 1)] == ["s2"]
    result = CliRunner().invoke(app, ["runs", MODEL], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "has no recorded runs yet" in result.output
    assert "scores of basic_template, newest first" in result.output
    assert "blocked" in result.output and "1 blocking" in result.output
