"""The validation split that scores tuning trials: carved from train by the same hash."""

import pytest

from pipelines.config import DataSource
from pipelines.data import warehouse
from pipelines.data.splits import split_queries, tuning_split_queries

SOURCE = DataSource(table="basic_template", split_key="id")


@pytest.fixture
def con(seeded_warehouse):
    connection = warehouse.connect(seeded_warehouse)
    yield connection
    connection.close()


def ids(con, sql):
    return {row[0] for row in con.sql(f"SELECT id FROM ({sql})").fetchall()}


def test_validation_is_part_of_train_and_disjoint_from_eval(con):
    run = {q.name: ids(con, q.sql) for q in split_queries(SOURCE, "label", "duckdb")}
    tuning = {q.name: ids(con, q.sql) for q in tuning_split_queries(SOURCE, "label", "duckdb", 20)}
    assert set(tuning) == {"train", "validation"}  # the eval split is not even read
    assert tuning["validation"] and tuning["train"]
    assert not tuning["validation"] & run["eval"] and not tuning["train"] & run["eval"]
    assert not tuning["validation"] & tuning["train"]
    assert tuning["validation"] | tuning["train"] == run["train"]
    share = len(tuning["validation"]) / len(run["train"])
    assert abs(share - 0.2) < 0.05, share


def test_validation_takes_the_last_buckets_of_train_in_both_dialects():
    source = DataSource(table="t", split_key="k", splits={"eval": 10, "train": 90})
    local = tuning_split_queries(source, "y", "duckdb", 10)
    cloud = tuning_split_queries(source, "y", "bigquery", 10, project="p", dataset="d")
    assert [(q.name, q.low, q.high) for q in local] == [("train", 10, 91), ("validation", 91, 100)]
    assert [(q.low, q.high) for q in cloud] == [(10, 91), (91, 100)]
    assert "FARM_FINGERPRINT" in cloud[1].sql and "`p.d`.t" in cloud[1].sql
