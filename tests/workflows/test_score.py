"""``fullcycle score`` on a small exported-shape model: the same answers as ``fullcycle predict``,
every row once with its keys, missing values as at the endpoint, blocked on drift, append-only."""

import json

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.config import FullcycleError, load_config
from pipelines.serving.model_store import LoadedModel
from pipelines.workflows.score import ScoreBlockedError, score
from tests.workflows.conftest import MODEL, ROWS, write_rows

BASE = ["id", "prediction", "model_version", "scored_at", "score_id"]


def table(workspace, sql: str) -> list[tuple]:
    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def instances(workspace, sql: str = "SELECT id, x, n, word FROM rows ORDER BY id") -> list[dict]:
    """The rows as JSON instances, as `fullcycle predict --instances` reads them."""
    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        return json.loads(json.dumps(con.execute(sql).fetch_arrow_table().to_pylist()))
    finally:
        con.close()


def scores(workspace, columns: str = "id, prediction") -> list[tuple]:
    return table(workspace, f"SELECT {columns} FROM {MODEL}_predictions ORDER BY id")


def test_regression_scores_every_row_once_as_fullcycle_predict_does(workspace, scored_model):
    version = scored_model()
    summary = score(load_config(MODEL), workspace)
    assert (summary.status, summary.rows, summary.version) == ("scored", ROWS, "1000")
    assert summary.findings == [] and summary.baseline is not None
    assert summary.checked_rows == ROWS
    columns = [row[0] for row in table(workspace, f"DESCRIBE {MODEL}_predictions")]
    assert columns == BASE
    rows = scores(workspace, "id, prediction, model_version, score_id")
    assert [r[0] for r in rows] == list(range(ROWS))  # every key once
    assert {(r[2], r[3]) for r in rows} == {("1000", summary.score_id)}
    expected = LoadedModel(version).predict(
        [{k: v for k, v in i.items() if k != "id"} for i in instances(workspace)])
    np.testing.assert_allclose([r[1] for r in rows], expected, rtol=1e-6)


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification"])
def test_classifiers_get_probabilities_and_the_predicted_class(workspace, scored_model, task):
    version = scored_model(task)
    score(load_config(MODEL), workspace)
    rows = scores(workspace, "id, prediction, predicted_class")
    expected = np.asarray(LoadedModel(version).predict(instances(workspace)))
    got = np.asarray([r[1] for r in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    classes = expected.argmax(axis=1) if expected.ndim == 2 else expected >= 0.5
    assert [r[2] for r in rows] == classes.astype(int).tolist()
    assert len(set(classes.tolist())) > 1  # both sides of the threshold are exercised


def test_cli_score_and_predict_agree(workspace, scored_model, tmp_path):
    scored_model()
    result = CliRunner().invoke(app, ["score", MODEL, "--where", "id >= 10", "--limit", "25"])
    assert result.exit_code == 0, result.output
    assert f"{MODEL} version 1000: 25 rows in" in result.output
    assert "data check: " in result.output
    rows = scores(workspace)
    chosen = instances(workspace, "SELECT * EXCLUDE (label, region) FROM rows WHERE id IN ("
                       + ", ".join(str(r[0]) for r in rows) + ") ORDER BY id")
    (tmp_path / "rows.json").write_text(json.dumps(chosen))
    predicted = CliRunner().invoke(app, ["predict", MODEL, "--instances",
                                         str(tmp_path / "rows.json")])
    assert predicted.exit_code == 0, predicted.output
    np.testing.assert_allclose([r[1] for r in rows],
                               json.loads(predicted.output)["predictions"], rtol=1e-6)
    assert len(rows) == 25 and min(r[0] for r in rows) >= 10


def test_a_missing_column_is_missing_as_at_the_endpoint(workspace, scored_model):
    version = scored_model(extra='batch_prediction={"query": "SELECT id, n, word, region FROM '
                                 '{dataset}.rows", "columns": ["region"]}, data_validation='
                                 '{"features": {"x": {"missing_fraction": {"threshold": 0.1, '
                                 '"action": "warn"}}}},')
    summary = score(load_config(MODEL), workspace)
    assert summary.status == "scored" and summary.rows == ROWS
    assert [(f["feature"], f["check"], f["action"]) for f in summary.findings] == \
        [("x", "missing_fraction", "warn")]
    rows = scores(workspace, "id, region, prediction")
    without_x = [{k: v for k, v in i.items() if k != "x"} for i in instances(workspace)]
    np.testing.assert_allclose([r[2] for r in rows], LoadedModel(version).predict(without_x),
                               rtol=1e-6)
    assert [r[1] for r in rows[:4]] == ["r0", "r1", "r2", "r0"]


def test_a_null_the_model_cannot_take_is_refused_and_nothing_written(workspace, scored_model):
    scored_model()
    write_rows(workspace, "UPDATE rows SET word = NULL WHERE id = 123")
    with pytest.raises(FullcycleError, match="feature 'word': row 123 holds null, and the "
                                             "model has no rule for a missing value"):
        score(load_config(MODEL), workspace)
    assert table(workspace, "SELECT count(*) FROM information_schema.tables WHERE "
                            f"table_name = '{MODEL}_predictions'") == [(0,)]


def test_a_unit_change_blocks_the_score_naming_the_feature(workspace, scored_model):
    scored_model()
    first = score(load_config(MODEL), workspace)
    write_rows(workspace, "UPDATE rows SET x = x * 1000")
    with pytest.raises(ScoreBlockedError, match=r"nothing was written to scored_predictions: "
                                                r"\[score vs train\] x: drift") as blocked:
        score(load_config(MODEL), workspace)
    assert blocked.value.summary.status == "blocked"
    assert {f["feature"] for f in blocked.value.summary.blocking} == {"x"}
    assert table(workspace, f"SELECT DISTINCT score_id, count(*) FROM {MODEL}_predictions "
                            "GROUP BY score_id") == [(first.score_id, ROWS)]


def test_scores_are_appended_never_replaced(workspace, scored_model):
    scored_model()
    first = score(load_config(MODEL), workspace)
    before = scores(workspace, "id, prediction, score_id")
    second = score(load_config(MODEL), workspace, where="id < 100")
    assert second.score_id != first.score_id and second.rows == 100
    counts = table(workspace, f"SELECT score_id, count(*) FROM {MODEL}_predictions "
                              "GROUP BY ALL ORDER BY 2 DESC")
    assert counts == [(first.score_id, ROWS), (second.score_id, 100)]
    assert table(workspace, f"SELECT id, prediction, score_id FROM {MODEL}_predictions WHERE "
                            f"score_id = '{first.score_id}' ORDER BY id") == before
    listed = CliRunner().invoke(app, ["runs", MODEL, "--scores", "--json"])
    assert [(r["score_id"], r["rows"], r["status"]) for r in json.loads(listed.output)] == \
        [(second.score_id, 100, "scored"), (first.score_id, ROWS, "scored")]


def test_unknown_version_and_a_changed_destination_are_named(workspace, scored_model):
    scored_model()
    with pytest.raises(FullcycleError, match=r"unknown pushed version of model 'scored' '999'"
                                             r".*known: 1000"):
        score(load_config(MODEL), workspace, version="999")
    score(load_config(MODEL), workspace, limit=3)
    scored_model(extra='batch_prediction={"columns": ["region"]},')
    with pytest.raises(FullcycleError, match="destination table 'scored_predictions' exists "
                                             "with columns id, prediction, model_version"):
        score(load_config(MODEL), workspace)
    scored_model(extra='batch_prediction={"keys": ["row"]},')
    with pytest.raises(FullcycleError, match=r"batch_prediction.keys names 'row', which is not "
                                             r"a column of the rows to score"):
        score(load_config(MODEL), workspace)


def test_validate_names_a_key_the_rows_to_score_lack(workspace, models_package):
    from tests.workflows.conftest import CONFIG

    write_rows(workspace)
    models_package(MODEL, CONFIG.format(task="regression", classes="",
                                        extra='batch_prediction={"keys": ["idd"]},'))
    result = CliRunner().invoke(app, ["validate", MODEL])
    assert result.exit_code == 2
    assert "batch_prediction.keys names 'idd', which is not a column of the rows to score " \
           "(did you mean \"id\"?)" in result.output


def test_a_failed_append_writes_nothing_and_is_recorded(workspace, scored_model, monkeypatch):
    from pipelines.data import scoring

    scored_model()
    con = duckdb.connect(str(workspace.warehouse))
    con.execute(f"CREATE TABLE {MODEL}_predictions (id BIGINT, other VARCHAR)")
    con.close()
    monkeypatch.setattr(scoring, "check_destination", lambda *args: None)  # a table made since
    with pytest.raises(FullcycleError, match="the scores could not be appended to "
                                             "'scored_predictions' .nothing was written."):
        score(load_config(MODEL), workspace)
    assert table(workspace, f"SELECT count(*) FROM {MODEL}_predictions") == [(0,)]
    listed = CliRunner().invoke(app, ["runs", MODEL, "--scores", "--json"])
    assert [(r["status"], r["rows"]) for r in json.loads(listed.output)] == [("failed", 0)]
