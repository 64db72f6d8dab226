"""The cross-validation folds that score tuning trials: train cut by the same hash."""

import pytest

from pipelines.config import DataSource
from pipelines.data import warehouse
from pipelines.data.splits import fold_names, split_queries, tuning_split_queries

SOURCE = DataSource(table="basic_template", split_key="id")


@pytest.fixture
def con(seeded_warehouse):
    connection = warehouse.connect(seeded_warehouse)
    yield connection
    connection.close()


def ids(con, sql):
    return {row[0] for row in con.sql(f"SELECT id FROM ({sql})").fetchall()}


def test_folds_partition_train_and_never_touch_eval(con):
    run = {q.name: ids(con, q.sql) for q in split_queries(SOURCE, "label", "duckdb")}
    folds = {q.name: ids(con, q.sql) for q in tuning_split_queries(SOURCE, "label", "duckdb", 5)}
    assert list(folds) == fold_names(5) == ["fold_1", "fold_2", "fold_3", "fold_4", "fold_5"]
    assert set().union(*folds.values()) == run["train"]  # the eval split is not even read
    assert sum(len(rows) for rows in folds.values()) == len(run["train"])  # disjoint
    for name, rows in folds.items():
        assert not rows & run["eval"], name
        assert abs(len(rows) / len(run["train"]) - 0.2) < 0.05, (name, len(rows))


def test_folds_are_runs_of_trains_buckets_in_both_dialects():
    source = DataSource(table="t", split_key="k", splits={"eval": 10, "train": 90})
    local = tuning_split_queries(source, "y", "duckdb", 4)
    cloud = tuning_split_queries(source, "y", "bigquery", 4, project="p", dataset="d")
    assert [(q.name, q.low, q.high) for q in local] == [
        ("fold_1", 10, 32), ("fold_2", 32, 55), ("fold_3", 55, 77), ("fold_4", 77, 100)]
    assert [(q.low, q.high) for q in cloud] == [(q.low, q.high) for q in local]
    assert "FARM_FINGERPRINT" in cloud[1].sql and "`p.d`.t" in cloud[1].sql


def test_a_train_split_too_small_for_the_folds_is_refused():
    source = DataSource(table="t", split_key="k", splits={"eval": 97, "train": 3})
    with pytest.raises(ValueError, match="too small to cut into 4 folds; use at most 3"):
        tuning_split_queries(source, "y", "duckdb", 4)
