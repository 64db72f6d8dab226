"""The cloud score post-step's pure parts: output layouts it refuses (naming what it found),
and the input rows' missing markers read back as nulls for the data check. The SQL itself
runs on the BigQuery emulator in tests/rehearsal/test_score_output_sql.py."""

import pyarrow as pa
import pytest

from pipelines.cloud.score_output import (
    Column,
    appended_sql,
    create_sql,
    sample_sql,
    scores_select,
)
from pipelines.config import FullcycleError, load_config

REGRESSION = load_config("basic_template")
MULTICLASS = REGRESSION.model_copy(update={"task": "multiclass_classification"})
TABLE = "p.d.out"


def test_layouts_the_post_step_cannot_read_are_refused_by_name():
    with pytest.raises(FullcycleError, match=r"RECORD of scores, classes; expected .*'outputs'"):
        scores_select(REGRESSION, TABLE, [Column("id", "INTEGER"), Column(
            "prediction", "RECORD", fields=(Column("scores", "FLOAT"),
                                            Column("classes", "STRING")))])
    with pytest.raises(FullcycleError, match="one number per row; a multiclass model"):
        scores_select(MULTICLASS, TABLE, [Column("id", "INTEGER"), Column("prediction", "FLOAT")])
    with pytest.raises(FullcycleError, match="NULLABLE BYTES; expected a number"):
        scores_select(REGRESSION, TABLE, [Column("id", "INTEGER"), Column("prediction", "BYTES")])
    with pytest.raises(FullcycleError, match=r"p.d.out has no column 'id'; its columns: "
                                             r"key, prediction"):
        scores_select(REGRESSION, TABLE, [Column("key", "INTEGER"), Column("prediction", "FLOAT")])


def test_the_sample_is_ordered_by_a_fingerprint_of_the_keys():
    sql = sample_sql(REGRESSION, "p.d.rows", ["numeric_feature1"], 100_000)
    assert sql == ("SELECT `numeric_feature1` FROM `p.d.rows`\n"
                   "ORDER BY FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(`id`)))\nLIMIT 100000")


def test_missing_markers_of_the_input_rows_are_read_back_as_nulls():
    from pipelines.cloud.score_append import _as_nulls

    table = pa.table({"f": [1.5, float("nan")], "i": [3, -2**63], "s": ["a", ""],
                      "id": [1, 2]})
    back = _as_nulls(table, ["f", "i", "s"])
    assert back.to_pydict() == {"f": [1.5, None], "i": [3, None], "s": ["a", None],
                                "id": [1, 2]}


def test_the_destination_is_clustered_by_the_score_id_every_append_looks_for():
    """Each append counts its score's rows and INSERTs WHERE NOT EXISTS rows of it: on a
    table clustered by score_id, BigQuery reads that score's blocks, not every score's."""
    sql = create_sql("p.d.basic_template_predictions", "SELECT 1 AS score_id")
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `p.d.basic_template_predictions` "
                          "CLUSTER BY score_id AS\n")
    assert "WHERE score_id = @score_id" in appended_sql("p.d.basic_template_predictions")
