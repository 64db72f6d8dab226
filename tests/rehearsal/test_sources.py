"""Which warehouse tables a rehearsal loads into the BigQuery emulator, for any model."""

import pytest

from pipelines.config import DataSource, load_config
from tests.rehearsal.emulators import EmulatorError, source_tables


def test_the_samples_tables():
    assert source_tables(load_config("basic_template").source) == ["basic_template"]
    assert source_tables(load_config("taxi_tips").source) == ["taxi_trips"]


def test_every_table_a_query_names_is_loaded():
    source = DataSource(query="SELECT * FROM {dataset}.trips t JOIN {dataset}.zones z "
                              "ON t.zone = z.id JOIN {dataset}.trips u ON TRUE",
                        split_key="id")
    assert source_tables(source) == ["trips", "zones"]


def test_a_query_naming_no_dataset_table_is_refused_with_the_query():
    source = DataSource(query="SELECT * FROM `other-project.ds.trips`", split_key="id")
    with pytest.raises(EmulatorError, match=r"names no table as \{dataset\}.<table>.*"
                                            r"other-project"):
        source_tables(source)
