"""Batch prediction: which rows a model scores in bulk, keyed how, and where the scores go.

Without a ``batch_prediction`` section a model still scores: its training source
(the label is never read), keyed by the source's ``split_key``, into the table
``<model>_predictions`` of the model's dataset. ``table`` or ``query`` (with
``{dataset}`` as in ``DataSource``) names other rows, ``keys`` other key columns.
Keys and ``columns`` are copied to the destination beside each prediction; whether
they exist in the source is checked against the warehouse when scoring (and by
``fullcycle validate`` when the warehouse exists).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.config.errors import did_you_mean

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# Columns fullcycle writes itself; a key or copied column of the same name would clash.
SCORE_COLUMNS = ("prediction", "predicted_class", "model_version", "scored_at", "score_id")


def _identifier(what: str, value: str) -> str:
    import re

    if not re.match(IDENTIFIER_PATTERN, value):
        raise ValueError(f"{what} {value!r} is not a valid name: a letter or _ followed by "
                         "letters, digits or _ (at most 128)")
    return value


class BatchPrediction(BaseModel):
    """Where ``fullcycle score`` (and the scheduled batch job) reads rows and writes scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str | None = Field(None, description="A table in the model's dataset to score.")
    query: str | None = Field(None, description="A SELECT of the rows to score; {dataset} "
                                                "names the dataset.")
    keys: tuple[str, ...] | None = Field(
        None, description="Columns identifying a row, copied beside its prediction "
                          "(default: the source's split_key).")
    destination: str | None = Field(
        None, description="The table scores are appended to (default: <model>_predictions).")
    columns: tuple[str, ...] = Field(
        (), description="Other source columns copied beside the keys (not fed to the model).")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for name in data:
                if name not in allowed:
                    raise ValueError(f"unknown field {name!r}{did_you_mean(name, allowed)}; "
                                     f"allowed: {', '.join(allowed)}")
        return data

    @field_validator("keys", "columns", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> BatchPrediction:
        if self.table is not None and self.query is not None:
            raise ValueError("give at most one of 'table' or 'query' (neither: the training "
                             "source)")
        if self.table is not None:
            _identifier("table", self.table)
        if self.query is not None and not self.query.strip():
            raise ValueError("query is empty; give a SELECT or leave it out")
        if self.destination is not None:
            _identifier("destination table", self.destination)
            if self.destination == self.table:
                raise ValueError(f"destination {self.destination!r} is the table being "
                                 "scored; scores go to a table of their own")
        if self.keys is not None and not self.keys:
            raise ValueError("keys needs at least one column (leave it out for the "
                             "source's split_key)")
        named = [*(self.keys or ()), *self.columns]
        for column in named:
            _identifier("column", column)
            if column in SCORE_COLUMNS:
                raise ValueError(f"column {column!r} clashes with a column fullcycle writes "
                                 f"({', '.join(SCORE_COLUMNS)}); rename it in a query")
        repeated = sorted({c for c in named if named.count(c) > 1})
        if repeated:
            raise ValueError(f"column(s) {', '.join(repeated)} listed twice in keys/columns")
        return self

    def check_with(self, label_key: str, training_table: str | None,
                   keys: tuple[str, ...]) -> None:
        """The rules that need the rest of the model config (``keys``: the keys in effect)."""
        if label_key in keys:
            raise ValueError(f"batch_prediction.keys names the label {label_key!r}; keys "
                             "identify the rows to score, which have no label")
        if self.destination is not None and self.destination == training_table:
            raise ValueError(f"batch_prediction.destination {self.destination!r} is the "
                             "training table; scores go to a table of their own")
