"""Hash splits: the same SQL logic in both dialects; deterministic and proportional."""

import pytest

from pipelines.config import DataSource
from pipelines.data import warehouse
from pipelines.data.farmhash import fingerprint64
from pipelines.data.splits import bucket_expr, split_queries


def test_bigquery_sql_uses_native_fingerprint_and_qualified_dataset():
    queries = split_queries(DataSource(table="trips", split_key="trip_id"), "tips", "bigquery",
                            project="my-proj", dataset="fc_taxi")
    assert [q.name for q in queries] == ["train", "eval"]
    train = queries[0].sql
    assert "SELECT * FROM `my-proj.fc_taxi`.trips" in train
    assert "MOD(ABS(FARM_FINGERPRINT(COALESCE(CAST(trip_id AS STRING), ''))), 100) >= 0" in train
    assert "< 80" in train and "tips IS NOT NULL" in train
    assert "< 100" in queries[1].sql and ">= 80" in queries[1].sql


def test_query_source_resolves_dataset_placeholder_per_dialect():
    source = DataSource(query="SELECT *, a > 1 AS y FROM {dataset}.t;", split_key=["a", "b"])
    local = split_queries(source, "y", "duckdb")[0].sql
    cloud = split_queries(source, "y", "bigquery", project="p", dataset="d")[0].sql
    assert "FROM main.t" in local and "FROM `p.d`.t" in cloud
    assert ";" not in local
    key = "CONCAT(COALESCE(CAST(a AS STRING), ''), '|', COALESCE(CAST(b AS STRING), ''))"
    assert key in local and key in cloud  # the split logic is identical text


def test_bigquery_needs_project_and_dataset():
    with pytest.raises(ValueError, match="project and a dataset"):
        split_queries(DataSource(table="t", split_key="k"), "y", "bigquery")


@pytest.fixture
def con(seeded_warehouse):
    connection = warehouse.connect(seeded_warehouse)
    yield connection
    connection.close()


def ids(con, sql):
    return {row[0] for row in con.sql(f"SELECT id FROM ({sql})").fetchall()}


def test_duckdb_splits_partition_rows_in_proportion(con):
    source = DataSource(table="basic_template", split_key="id",
                        splits={"train": 70, "eval": 20, "test": 10})
    queries = split_queries(source, "label", "duckdb")
    parts = {q.name: ids(con, q.sql) for q in queries}
    total = con.sql("SELECT count(*) FROM basic_template").fetchone()[0]
    assert sum(len(p) for p in parts.values()) == total
    assert not parts["train"] & parts["eval"] and not parts["eval"] & parts["test"]
    for name, percent in source.splits.items():
        assert abs(len(parts[name]) / total - percent / 100) < 0.03, name


def test_duckdb_splits_are_deterministic_across_connections(con, seeded_warehouse):
    query = split_queries(DataSource(table="basic_template", split_key="id"), "label", "duckdb")[1]
    other = warehouse.connect(seeded_warehouse)
    try:
        assert ids(con, query.sql) == ids(other, query.sql)
    finally:
        other.close()


def test_bucket_is_the_bigquery_bucket(con):
    rows = con.sql(f"SELECT id, {bucket_expr(('id',))} FROM basic_template LIMIT 50").fetchall()
    for row_id, bucket in rows:
        assert bucket == abs(fingerprint64(str(row_id))) % 100


def test_rows_without_label_are_dropped(tmp_path):
    path = tmp_path / "w.duckdb"
    con = warehouse.connect(path, read_only=False)
    con.execute("CREATE TABLE t AS SELECT range AS id, CASE WHEN range % 4 = 0 THEN NULL "
                "ELSE range END AS y FROM range(400)")
    queries = split_queries(DataSource(table="t", split_key="id"), "y", "duckdb")
    counted = sum(con.sql(f"SELECT count(*) FROM ({q.sql})").fetchone()[0] for q in queries)
    assert counted == 300
