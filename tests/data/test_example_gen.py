"""DuckDB rows become tf.Examples the way BigQueryExampleGen converts BigQuery rows."""

import datetime
import decimal
import gzip
import shutil

import duckdb
import pytest
import tensorflow as tf

from pipelines.data.example_gen import _feature, query_examples, shard_name, write_split_files
from pipelines.data.splits import SplitQuery, input_config

TYPES = """CREATE TABLE types AS SELECT * FROM (VALUES
 (1, true, 1::TINYINT, 2.5::DECIMAL(10,3), DATE '2024-01-02', TIMESTAMP '2024-01-02 10:11:12.5',
  [1, NULL, 3], 'é', 1.1::FLOAT, NULL::INTEGER, 'x'::BLOB, TIME '10:00:00', []::INT[]),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [NULL]::INT[]),
 (3, false, -5::TINYINT, 0.1::DECIMAL(10,3), DATE '1999-12-31', TIMESTAMP '2024-01-02 10:11:12',
  [4], '', 1e30::DOUBLE, 7, NULL, NULL, [5]))
 AS t(id, flag, tiny, money, day, moment, ints, word, real, missing, raw, clock, empty)"""


def test_value_mapping():
    assert _feature(None).WhichOneof("kind") is None  # NULL -> empty feature
    assert list(_feature(True).int64_list.value) == [1]  # BOOLEAN -> int, as BigQuery's
    assert list(_feature(7).int64_list.value) == [7]
    assert list(_feature(decimal.Decimal("1.5")).float_list.value) == [1.5]
    assert list(_feature("é").bytes_list.value) == ["é".encode()]
    assert list(_feature([1.0, None, 2.0]).float_list.value) == [1.0, 2.0]
    assert list(_feature(datetime.date(2024, 1, 2)).bytes_list.value) == [b"2024-01-02"]


@pytest.fixture(scope="module")
def typed_warehouse(seeded_warehouse, tmp_path_factory):
    """The seeded tables plus one row set of every kind of DuckDB column, NULLs included."""
    path = tmp_path_factory.mktemp("typed") / "warehouse.duckdb"
    shutil.copy(seeded_warehouse, path)
    con = duckdb.connect(str(path))
    con.execute(TYPES)
    con.close()
    return str(path)


def _reference(query: str, warehouse: str) -> list[tf.train.Example]:
    """The row-by-row mapping (``_feature``), the definition the fast path must match."""
    con = duckdb.connect(warehouse, read_only=True)
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    con.close()
    return [tf.train.Example(features=tf.train.Features(
        feature={n: _feature(v) for n, v in zip(names, row, strict=True)})) for row in rows]


@pytest.mark.parametrize("query", ["SELECT * FROM types ORDER BY id",
                                   "SELECT * FROM basic_template",
                                   "SELECT * FROM taxi_trips"])
def test_streamed_examples_equal_the_row_by_row_mapping(typed_warehouse, query):
    streamed = [tf.train.Example.FromString(record)
                for batch in query_examples(query, typed_warehouse) for record in batch]
    assert streamed == _reference(query, typed_warehouse)  # same rows, same order, same values


def test_null_and_typed_values_in_the_stream(typed_warehouse):
    first, second, _ = [tf.train.Example.FromString(record).features.feature
                        for batch in query_examples("SELECT * FROM types ORDER BY id",
                                                    typed_warehouse) for record in batch]
    assert second["flag"].WhichOneof("kind") is None  # NULL: present and empty
    assert second["empty"].WhichOneof("kind") is None  # a list of only NULLs
    assert first["flag"].int64_list.value == [1]
    assert first["moment"].bytes_list.value == [b"2024-01-02T10:11:12.500000"]
    assert first["ints"].int64_list.value == [1, 3]
    assert first["real"].float_list.value == pytest.approx([1.1])


def _ids(path) -> list[int]:
    return [tf.train.Example.FromString(r).features.feature["id"].int64_list.value[0]
            for r in tf.data.TFRecordDataset(str(path), "GZIP").as_numpy_iterator()]


def test_split_is_written_whole_in_gzipped_shards_in_row_order(typed_warehouse, tmp_path):
    split = tmp_path / "Split-train"
    rows = write_split_files("SELECT * FROM basic_template WHERE id < 300 ORDER BY id",
                             typed_warehouse, str(split), shard_rows=128)
    assert rows == 300
    names = [shard_name(i, 3) for i in range(3)]
    assert names[0] == "data_tfrecord-00000-of-00003.gz"  # Beam's WriteToTFRecord names
    assert sorted(p.name for p in split.iterdir()) == names  # no partial file left
    with gzip.open(split / names[0], "rb") as data:
        assert data.read(1)
    assert [_ids(split / name) for name in names] == [
        list(range(0, 128)), list(range(128, 256)), list(range(256, 300))]


def test_an_empty_split_is_one_empty_shard(typed_warehouse, tmp_path):
    split = tmp_path / "Split-eval"
    assert write_split_files("SELECT * FROM basic_template WHERE id < 0", typed_warehouse,
                             str(split)) == 0
    assert [p.name for p in split.iterdir()] == [shard_name(0, 1)]
    assert _ids(split / shard_name(0, 1)) == []


def test_a_failing_query_leaves_no_split_file(typed_warehouse, tmp_path):
    split = tmp_path / "Split-train"
    with pytest.raises(duckdb.Error, match="no_such_column"):
        write_split_files("SELECT no_such_column FROM basic_template", typed_warehouse,
                          str(split))
    assert list(split.iterdir()) == []  # neither a shard nor a partial one


def test_input_config_one_split_per_query():
    config = input_config([SplitQuery("train", 0, 80, "SELECT 1"),
                           SplitQuery("eval", 80, 100, "SELECT 2")])
    assert [(s.name, s.pattern) for s in config.splits] == [("train", "SELECT 1"),
                                                            ("eval", "SELECT 2")]
