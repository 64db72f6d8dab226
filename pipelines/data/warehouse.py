"""The embedded warehouse: a DuckDB file that speaks the same split SQL as BigQuery.

``connect`` registers ``FARM_FINGERPRINT`` (FarmHash Fingerprint64, bit-identical
to BigQuery's) so split queries run unchanged. ``seed`` builds the sample tables deterministically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.config.errors import FullcycleError
from pipelines.data.farmhash import fingerprint64

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
TAXI_CSV = "tfx/examples/chicago_taxi_pipeline/data/simple/data.csv"


def connect(path: Path | str, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Opens the warehouse; raises a clear error when it does not exist yet."""
    path = Path(path)
    if read_only and not path.exists():
        raise FullcycleError(f"warehouse {path} does not exist; create it with "
                             "`fullcycle data seed` (or `fullcycle data load TABLE FILE`)")
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.create_function("farm_fingerprint", fingerprint64, ["VARCHAR"], "BIGINT",
                            side_effects=False)
    except duckdb.CatalogException:
        pass  # connections to one file in one process share a catalog: already registered
    return con


def fingerprint(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """A content hash of a query's rows: unchanged data gives an unchanged value."""
    count, digest = con.sql(
        f"SELECT count(*), coalesce(sum(hash(source)), 0) FROM ({sql}) AS source").fetchone()
    return f"{count}:{digest}"


def columns(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, str]:
    """Column name -> DuckDB type of a query's result."""
    return {row[0]: row[1] for row in con.sql(f"DESCRIBE {sql}").fetchall()}


def distinct_count(con: duckdb.DuckDBPyConnection, sql: str, column: str) -> int:
    """Distinct non-null values of ``column`` (a plain identifier) in a query's result."""
    return con.sql(f'SELECT count(DISTINCT "{column}") FROM ({sql}) AS source').fetchone()[0]


def basic_template_rows(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    """Synthetic data with a known relationship the basic_template model can learn.

    label = 3*numeric_feature1 - 2*numeric_feature2 + 4*categorical_calculated
            + offset(categorical_feature) + N(0, 1)
    """
    rng = np.random.default_rng(seed)
    f1 = rng.uniform(0, 10, n)
    f2 = rng.normal(5, 2, n)
    calc = (f1 + rng.normal(0, 1, n) > 5).astype(np.int64)
    cats = np.array(["amber", "blue", "coral", "dune", "ember", "fern", "gold"])
    weights = np.array([0.3, 0.25, 0.15, 0.12, 0.1, 0.05, 0.03])
    cat = rng.choice(cats, n, p=weights)
    offset = dict(zip(cats, [0.0, 2.0, -2.0, 4.0, -4.0, 1.0, -1.0], strict=True))
    label = 3 * f1 - 2 * f2 + 4 * calc + np.vectorize(offset.get)(cat) + rng.normal(0, 1, n)
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "numeric_feature1": f1.round(4),
        "numeric_feature2": f2.round(4),
        "categorical_calculated": calc,
        "categorical_feature": cat,
        "label": label.round(4),
    })


def _taxi_csv() -> Path:
    import tfx

    return Path(tfx.__file__).parent.parent / TAXI_CSV


def seed(path: Path | str) -> dict[str, int]:
    """Builds the sample warehouse at ``path`` (atomically); returns rows per table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        con.register("basic_template_rows", basic_template_rows())
        con.execute("CREATE TABLE basic_template AS SELECT * FROM basic_template_rows")
        con.unregister("basic_template_rows")
        con.execute(
            "CREATE TABLE taxi_trips AS SELECT (row_number() OVER () - 1)::BIGINT AS trip_id, * "
            "FROM read_csv(?, header = true, auto_detect = true)", [str(_taxi_csv())])
        counts = {t: con.sql(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("basic_template", "taxi_trips")}
        con.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def load(path: Path | str, table: str, file: Path | str) -> int:
    """Creates or replaces ``table`` from a CSV or Parquet file; returns its row count."""
    file = Path(file)
    if not _TABLE.match(table):
        raise FullcycleError(f"table name {table!r} must be a letter or _ followed by "
                             "letters, digits or _")
    if not file.is_file():
        raise FullcycleError(f"data file {file} does not exist")
    readers = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise FullcycleError(f"data file {file}: suffix {file.suffix!r} is not supported; "
                             f"allowed: {', '.join(sorted(readers))}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {reader}(?)", [str(file)])
        return con.sql(f"SELECT count(*) FROM {table}").fetchone()[0]
    except duckdb.Error as err:
        raise FullcycleError(f"could not load {file} into table {table!r}: {err}") from None
    finally:
        con.close()
