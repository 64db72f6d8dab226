"""DuckDB rows become tf.Examples the way BigQueryExampleGen converts BigQuery rows."""

import datetime
import decimal

from pipelines.data.example_gen import _feature, _query_examples
from pipelines.data.splits import SplitQuery, input_config


def test_value_mapping():
    assert _feature(None).WhichOneof("kind") is None  # NULL -> empty feature
    assert list(_feature(True).int64_list.value) == [1]  # BOOLEAN -> int, as BigQuery's
    assert list(_feature(7).int64_list.value) == [7]
    assert list(_feature(decimal.Decimal("1.5")).float_list.value) == [1.5]
    assert list(_feature("é").bytes_list.value) == ["é".encode()]
    assert list(_feature([1.0, None, 2.0]).float_list.value) == [1.0, 2.0]
    assert list(_feature(datetime.date(2024, 1, 2)).bytes_list.value) == [b"2024-01-02"]


def test_query_examples_reads_rows(seeded_warehouse):
    examples = list(_query_examples("SELECT * FROM basic_template ORDER BY id LIMIT 3",
                                    str(seeded_warehouse)))
    assert len(examples) == 3
    first = examples[0].features.feature
    assert first["id"].int64_list.value == [0]
    colours = {b"amber", b"blue", b"coral", b"dune", b"ember", b"fern", b"gold"}
    assert first["categorical_feature"].bytes_list.value[0] in colours


def test_input_config_one_split_per_query():
    config = input_config([SplitQuery("train", 0, 80, "SELECT 1"),
                           SplitQuery("eval", 80, 100, "SELECT 2")])
    assert [(s.name, s.pattern) for s in config.splits] == [("train", "SELECT 1"),
                                                            ("eval", "SELECT 2")]
