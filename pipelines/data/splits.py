"""Deterministic hash splits as SQL, identical for BigQuery and DuckDB.

A row's split is ``MOD(ABS(FARM_FINGERPRINT(key)), 100)`` against cumulative
percentage ranges. BigQuery evaluates ``FARM_FINGERPRINT`` natively; the local
warehouse registers the same FarmHash Fingerprint64 as a DuckDB function, so a
row lands in the same split in both places. Rows without a label are dropped:
they can be neither trained on nor evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.config.model_config import DataSource, ModelConfig

Dialect = Literal["bigquery", "duckdb"]

LOCAL_DATASET = "main"


@dataclass(frozen=True)
class SplitQuery:
    """The SQL selecting one split's rows."""

    name: str
    low: int
    high: int
    sql: str


def dataset_ref(dialect: Dialect, project: str | None = None, dataset: str | None = None) -> str:
    """How SQL names the model's dataset in ``dialect``."""
    if dialect == "duckdb":
        return LOCAL_DATASET
    if not project or not dataset:
        raise ValueError("BigQuery SQL needs a project and a dataset")
    return f"`{project}.{dataset}`"


def source_sql(source: DataSource, dataset: str) -> str:
    """The model's source as a SELECT, with ``{dataset}`` resolved."""
    if source.table is not None:
        return f"SELECT * FROM {dataset}.{source.table}"
    return source.query.replace("{dataset}", dataset).strip().rstrip(";")


def scoring_source(config: ModelConfig, dataset: str) -> str:
    """The SELECT of every row a ``ModelConfig`` scores in bulk (``batch_prediction``'s table
    or query, else the training source), with ``{dataset}`` resolved."""
    scoring = config.batch_prediction
    if scoring.table is not None:
        return f"SELECT * FROM {dataset}.{scoring.table}"
    if scoring.query is not None:
        return scoring.query.replace("{dataset}", dataset).strip().rstrip(";")
    return source_sql(config.source, dataset)


def bucket_expr(split_key: tuple[str, ...]) -> str:
    """The 0..99 bucket of a row, from its split key column(s)."""
    parts = [f"COALESCE(CAST({col} AS STRING), '')" for col in split_key]
    key = parts[0] if len(parts) == 1 else "CONCAT(" + ", '|', ".join(parts) + ")"
    return f"MOD(ABS(FARM_FINGERPRINT({key})), 100)"


def _split_sql(inner: str, label_key: str, bucket: str, low: int, high: int) -> str:
    return (f"SELECT * FROM ({inner}) AS source\n"
            f"WHERE {label_key} IS NOT NULL\n"
            f"  AND {bucket} >= {low} AND {bucket} < {high}")


def split_queries(source: DataSource, label_key: str, dialect: Dialect,
                  project: str | None = None, dataset: str | None = None) -> list[SplitQuery]:
    """One SELECT per split; the splits partition the labelled rows."""
    inner = source_sql(source, dataset_ref(dialect, project, dataset))
    bucket = bucket_expr(source.split_key)
    queries, low = [], 0
    for name, percent in source.splits.items():
        high = low + percent
        queries.append(SplitQuery(name, low, high, _split_sql(inner, label_key, bucket, low,
                                                              high)))
        low = high
    return queries


def input_config(queries: list[SplitQuery]):
    """The ExampleGen input config: one split per query (DuckDB and BigQuery alike)."""
    from tfx.proto import example_gen_pb2

    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=q.name, pattern=q.sql) for q in queries])


FOLD_PREFIX = "fold_"


def fold_names(folds: int) -> list[str]:
    """The tuning pipeline's split names: ``fold_1`` .. ``fold_<folds>``."""
    return [f"{FOLD_PREFIX}{i}" for i in range(1, folds + 1)]


def tuning_split_queries(source: DataSource, label_key: str, dialect: Dialect, folds: int,
                         project: str | None = None,
                         dataset: str | None = None) -> list[SplitQuery]:
    """The train split cut into ``folds`` cross-validation folds by the same hash: each a
    contiguous run of train's buckets (``fold_1`` .. ``fold_<folds>``). A trial trains on
    all folds but one and is scored on that one. The eval split, which the Evaluator
    gates on, is not among them."""
    train = next(q for q in split_queries(source, label_key, dialect, project, dataset)
                 if q.name == "train")
    width = train.high - train.low
    if width < folds:
        raise ValueError(f"the train split ({width} % of the hash buckets) is too small to cut "
                         f"into {folds} folds; use at most {width} folds")
    inner = source_sql(source, dataset_ref(dialect, project, dataset))
    bucket = bucket_expr(source.split_key)
    cuts = [train.low + width * i // folds for i in range(folds + 1)]
    return [SplitQuery(name, low, high, _split_sql(inner, label_key, bucket, low, high))
            for name, low, high in zip(fold_names(folds), cuts, cuts[1:], strict=False)]
