"""The rows a model scores and the table its scores are appended to, in the local warehouse.

The rows: ``batch_prediction``'s table or query, else the training source; only the
keys, the copied columns and the model's features are read (never the label, unless
``columns`` asks for it). A feature the source lacks is left out here and reaches the
model as missing, as an instance without that key does at the endpoint.

The destination holds the keys, the copied columns, ``prediction``,
``predicted_class`` (classifiers), ``model_version``, ``scored_at`` and
``score_id``; scores are only ever appended, one ``score_id`` per call, in one
statement from a staged Parquet file (this DuckDB cannot scan the pyarrow 10 that
TFX pins; Parquet keeps every type, nulls in integer keys included).
"""

from __future__ import annotations

import duckdb

from pipelines.config.errors import FullcycleError, did_you_mean
from pipelines.config.model_config import ModelConfig
from pipelines.data.splits import scoring_source
from pipelines.data.warehouse import columns as describe


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rows_query(config: ModelConfig, con: duckdb.DuckDBPyConnection, dataset: str,
               where: str | None = None, limit: int | None = None) -> tuple[str, list[str]]:
    """(the SELECT of the rows to score, the model's features it reads); a clear error when
    the source fails or lacks a key or a copied column."""
    source = scoring_source(config, dataset)
    try:
        found = describe(con, source)
    except duckdb.Error as err:
        raise FullcycleError(f"model {config.name!r}: the rows to score could not be read "
                             f"({source}): {err}") from None
    for setting, names in (("batch_prediction.keys", config.score_keys),
                           ("batch_prediction.columns", config.batch_prediction.columns)):
        for name in names:
            if name not in found:
                raise FullcycleError(
                    f"model {config.name!r}: {setting} names {name!r}, which is not a column "
                    f"of the rows to score{did_you_mean(name, found)}; their columns: "
                    f"{', '.join(found)}")
    features = [f for f in config.raw_feature_keys if f in found]
    read = list(dict.fromkeys((*config.score_keys, *config.batch_prediction.columns,
                               *features)))
    sql = f"SELECT {', '.join(map(_quoted, read))} FROM ({source}) AS source"
    if where:
        sql += f"\nWHERE {where}"
    if limit is not None:
        sql += f"\nLIMIT {int(limit)}"
    try:
        describe(con, sql)
    except duckdb.Error as err:
        raise FullcycleError(f"model {config.name!r}: --where {where!r} does not work on the "
                             f"rows to score: {err}") from None
    return sql, features


def check_scoring_source(config: ModelConfig, warehouse_path) -> None:
    """Fails clearly when the rows to score cannot be read or lack a key or copied column."""
    from pipelines.data.splits import LOCAL_DATASET
    from pipelines.data.warehouse import connect

    con = connect(warehouse_path)
    try:
        rows_query(config, con, LOCAL_DATASET)
    finally:
        con.close()


def existing_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str] | None:
    """The columns of ``table`` in the warehouse, or None when there is no such table."""
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                       "AND table_schema = 'main' ORDER BY ordinal_position", [table]).fetchall()
    return [row[0] for row in rows] or None


def check_destination(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    """Refuses a destination that exists with other columns (scores are appended as they are)."""
    found = existing_columns(con, table)
    if found is not None and sorted(found) != sorted(names):
        raise FullcycleError(
            f"destination table {table!r} exists with columns {', '.join(found)}; these scores "
            f"have {', '.join(names)}. Keys, copied columns or the task changed: set "
            "batch_prediction.destination to a new table (scores are never replaced)")


def append(con: duckdb.DuckDBPyConnection, table: str, staged: str) -> int:
    """Appends the rows of the Parquet file ``staged`` to ``table`` in one statement (all or
    none), creating the table with their columns the first time; returns the rows added."""
    source = f"read_parquet('{staged.replace(chr(39), chr(39) * 2)}')"
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {_quoted(table)} AS SELECT * FROM {source} "
                    "WITH NO DATA")
        (added,) = con.execute(f"INSERT INTO {_quoted(table)} BY NAME SELECT * FROM {source}"
                               ).fetchone()
    except duckdb.Error as err:
        raise FullcycleError(f"the scores could not be appended to {table!r} (nothing was "
                             f"written): {err}") from None
    return added
