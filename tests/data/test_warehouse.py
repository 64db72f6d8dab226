"""The embedded warehouse: deterministic seed, loading user data, clear errors."""

import pandas as pd
import pytest

from pipelines.config import FullcycleError
from pipelines.data import warehouse


def test_seed_is_deterministic(tmp_path, seeded_warehouse):
    again = tmp_path / "again.duckdb"
    counts = warehouse.seed(again)
    assert counts == {"basic_template": 2000, "taxi_trips": 15002}
    for table in counts:
        a, b = warehouse.connect(seeded_warehouse), warehouse.connect(again)
        try:
            sql = f"SELECT * FROM {table}"
            assert warehouse.fingerprint(a, sql) == warehouse.fingerprint(b, sql)
        finally:
            a.close()
            b.close()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_fingerprint_changes_with_data(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb", read_only=False)
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
    before = warehouse.fingerprint(con, "SELECT * FROM t")
    con.execute("UPDATE t SET x = 99 WHERE x = 3")
    assert warehouse.fingerprint(con, "SELECT * FROM t") != before


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_csv_and_parquet(tmp_path, suffix):
    frame = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, 1.5, None], "s": ["a", "b", "c"]})
    file = tmp_path / f"data{suffix}"
    frame.to_csv(file, index=False) if suffix == ".csv" else frame.to_parquet(file)
    path = tmp_path / "w.duckdb"
    assert warehouse.load(path, "mine", file) == 3
    assert warehouse.load(path, "mine", file) == 3  # replaces, does not append
    con = warehouse.connect(path)
    assert warehouse.columns(con, "SELECT * FROM mine") == {"id": "BIGINT", "x": "DOUBLE",
                                                           "s": "VARCHAR"}


def test_load_errors_name_the_problem(tmp_path):
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(FullcycleError, match=r"suffix '.json' is not supported; allowed: "
                                             r".csv, .parquet, .pq"):
        warehouse.load(tmp_path / "w.duckdb", "t", tmp_path / "d.json")
    with pytest.raises(FullcycleError, match="does not exist"):
        warehouse.load(tmp_path / "w.duckdb", "t", tmp_path / "missing.csv")
    with pytest.raises(FullcycleError, match="table name 'my-table'"):
        warehouse.load(tmp_path / "w.duckdb", "my-table", tmp_path / "d.json")


def test_connect_missing_warehouse_says_how_to_create_it(tmp_path):
    with pytest.raises(FullcycleError, match="fullcycle data seed"):
        warehouse.connect(tmp_path / "nope.duckdb")
