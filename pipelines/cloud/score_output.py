"""The SQL of a cloud score's post-step: Vertex AI's output table into the model's destination.

What a BatchPredictionJob writes to a BigQuery table (``outputConfig.bigqueryDestination``
with a full ``bq://project.dataset.table`` URI, which must not exist yet), for our
models - custom TensorFlow models with no instance or prediction schemata, served by
the prebuilt ``tf2-cpu`` container:

- the excluded fields (our keys and copied columns) are attached to each output row
  under their own names ("Excluded will be attached to the batch prediction output if
  key_field is not specified": ``BatchPredictionJob.InstanceConfig.excluded_fields``,
  https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs
  and the client references of InstanceConfig); the instance's own columns may be
  there too ("columns as per a concatenation of the Model's instance and prediction
  schemata"): this SQL reads only what it needs, so either way works;
- ``prediction``: what the container answered for the instance. The prebuilt TF
  container is TensorFlow Serving's REST ``predict`` in row format, and for a signature
  with one named output it "omit[s] the name": each prediction is the output's value
  itself (https://www.tensorflow.org/tfx/serving/api_rest, "Response format").
  ``serving_default`` here has the one output ``outputs``: a number per instance
  (regression, binary: a FLOAT64 column) or one probability per class (multiclass: a
  REPEATED FLOAT64 column). Forms seen from other set-ups are read too: a RECORD
  holding ``outputs``, a one-element array for a scalar, and the value as JSON text
  (STRING or JSON column);
- failed instances: the ``OutputConfig.bigquery_destination`` reference says failed
  rows carry an ``errors`` column, "google.rpc.Status represented as a STRUCT, and
  containing only code and message"
  (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs#OutputConfig);
  where the output table has such a column, rows with an error are left out of the
  append and counted.

The destination holds exactly the local columns (``pipeline.score_check.score_columns``):
keys, copied columns, ``prediction`` (FLOAT64, or ARRAY<FLOAT64> of class
probabilities), ``predicted_class`` (INT64, classifiers: ``prediction >= 0.5`` for a
binary model, the first most probable class for a multiclass one, as
``serving.batch.prediction_columns`` computes them), ``model_version``, ``scored_at``
and ``score_id``. Every statement here runs on BigQuery and on the rehearsal's
bqemulator alike (checked there): ``CREATE TABLE IF NOT EXISTS ... CLUSTER BY ... AS
SELECT ... LIMIT 0`` (the emulator ignores the clustering), ``INSERT ... SELECT ...
WHERE NOT EXISTS``, ``UNNEST ... WITH OFFSET``,
``FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(...)))`` and query parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import ModelConfig

_NUMBERS = {"FLOAT", "FLOAT64", "INTEGER", "INT64", "NUMERIC", "BIGNUMERIC"}
_TEXT = {"STRING", "JSON"}


@dataclass(frozen=True)
class Column:
    """A BigQuery column as ``tables.get`` describes it."""

    name: str
    type: str  # FLOAT, INTEGER, STRING, RECORD, ...
    mode: str = "NULLABLE"  # NULLABLE | REQUIRED | REPEATED
    fields: tuple[Column, ...] = ()

    @classmethod
    def of(cls, field) -> Column:
        """From a ``google.cloud.bigquery.SchemaField``."""
        return cls(field.name, field.field_type.upper(), (field.mode or "NULLABLE").upper(),
                   tuple(cls.of(f) for f in field.fields or ()))


def _q(name: str) -> str:
    return f"`{name.replace('`', '')}`"


def _prediction(config: ModelConfig, column: Column, path: str) -> str:
    """The expression of the score's ``prediction`` from the output's ``column``."""
    multiclass = config.task == "multiclass_classification"
    if column.type == "RECORD":
        inner = {f.name: f for f in column.fields}
        if "outputs" not in inner:
            raise FullcycleError(f"the batch prediction output's {path} is a RECORD of "
                                 f"{', '.join(inner) or 'nothing'}; expected the serving "
                                 "signature's 'outputs'")
        return _prediction(config, inner["outputs"], f"{path}.outputs")
    if column.type in _NUMBERS and column.mode == "REPEATED":
        if multiclass:
            return (f"ARRAY(SELECT CAST(v AS FLOAT64) FROM UNNEST({path}) AS v WITH OFFSET AS o "
                    "ORDER BY o)")
        return f"CAST({path}[SAFE_OFFSET(0)] AS FLOAT64)"
    if column.type in _NUMBERS:
        if multiclass:
            raise FullcycleError(f"the batch prediction output's {path} is one number per "
                                 "row; a multiclass model answers one probability per class")
        return f"CAST({path} AS FLOAT64)"
    if column.type in _TEXT:  # the value as JSON text
        text = path if column.type == "STRING" else f"TO_JSON_STRING({path})"
        if multiclass:
            return (f"ARRAY(SELECT CAST(JSON_VALUE(v, '$') AS FLOAT64) FROM "
                    f"UNNEST(JSON_QUERY_ARRAY({text}, '$')) AS v WITH OFFSET AS o ORDER BY o)")
        return (f"CAST(COALESCE(JSON_VALUE({text}, '$'), JSON_VALUE({text}, '$[0]'), "
                f"JSON_VALUE({text}, '$.outputs')) AS FLOAT64)")
    raise FullcycleError(f"the batch prediction output's {path} is {column.mode} "
                         f"{column.type}; expected a number, numbers, a RECORD of 'outputs' "
                         "or JSON text")


def _predicted_class(config: ModelConfig) -> list[str]:
    if config.task == "binary_classification":
        return ["IF(prediction >= 0.5, 1, 0) AS predicted_class"]
    if config.task == "multiclass_classification":
        return ["(SELECT o FROM UNNEST(prediction) AS v WITH OFFSET AS o ORDER BY v DESC, o "
                "LIMIT 1) AS predicted_class"]
    return []


def _copied(config: ModelConfig) -> list[str]:
    return list(dict.fromkeys((*config.score_keys, *config.batch_prediction.columns)))


def failed_filter(output: list[Column]) -> str | None:
    """The condition of the rows Vertex AI could not predict, when the output says so."""
    errors = next((c for c in output if c.name == "errors"), None)
    return None if errors is None else "errors IS NOT NULL"


def scores_select(config: ModelConfig, output_table: str, output: list[Column],
                  typed_nulls: bool = False) -> str:
    """The score's rows, in the destination's columns, from the output table (``output``:
    its schema); ``@model_version``, ``@scored_at`` and ``@score_id`` are parameters
    (``typed_nulls``: NULLs of their types instead, for the DDL, which takes none)."""
    found = {c.name: c for c in output}
    missing = [name for name in (*_copied(config), "prediction") if name not in found]
    if missing:
        raise FullcycleError(f"the batch prediction output {output_table} has no column "
                             f"{', '.join(map(repr, missing))}; its columns: "
                             f"{', '.join(found)}")
    copied = ", ".join(_q(c) for c in _copied(config))
    failed = failed_filter(output)
    inner = (f"SELECT {copied}, {_prediction(config, found['prediction'], 'prediction')} AS "
             f"prediction FROM {_q(output_table)}"
             + (f" WHERE NOT ({failed})" if failed else ""))
    values = [f"CAST({'NULL' if typed_nulls else '@' + name} AS {kind}) AS {name}"
              for name, kind in (("model_version", "STRING"), ("scored_at", "TIMESTAMP"),
                                 ("score_id", "STRING"))]
    return (f"SELECT {copied}, prediction, "
            f"{', '.join([*_predicted_class(config), *values])}\nFROM ({inner}) AS scored")


def create_sql(destination: str, typed_select: str) -> str:
    """The destination with the scores' columns and types, unless it exists (``typed_select``:
    :func:`scores_select` with ``typed_nulls``). Clustered by ``score_id``: every append
    looks for its score's rows (:func:`appended_sql`, the INSERT's NOT EXISTS), which then
    reads the blocks of that score, not the whole growing table (billed by bytes read)."""
    return (f"CREATE TABLE IF NOT EXISTS {_q(destination)} CLUSTER BY score_id AS\n"
            f"{typed_select}\nLIMIT 0")


def append_sql(config: ModelConfig, destination: str, select: str) -> str:
    """Appends the score's rows in one statement (all or none) unless rows of its score id
    are there already (an earlier append whose result marker was never written)."""
    from pipelines.pipeline.score_check import score_columns

    columns = ", ".join(_q(c) for c in score_columns(config))
    return (f"INSERT INTO {_q(destination)} ({columns})\n{select}\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM {_q(destination)} WHERE score_id = @score_id)")


def appended_sql(destination: str) -> str:
    """How many rows of the score are in the destination already."""
    return f"SELECT COUNT(*) AS n FROM {_q(destination)} WHERE score_id = @score_id"


def failed_sql(output_table: str, output: list[Column]) -> str | None:
    """How many instances Vertex AI could not predict, and one of its messages."""
    failed = failed_filter(output)
    if failed is None:
        return None
    errors = next(c for c in output if c.name == "errors")
    message = ("errors.message" if errors.type == "RECORD" and
               any(f.name == "message" for f in errors.fields) else "TO_JSON_STRING(errors)")
    return (f"SELECT COUNT(*) AS n, ANY_VALUE({message}) AS message FROM {_q(output_table)} "
            f"WHERE {failed}")


def sample_sql(config: ModelConfig, rows_table: str, features: list[str], rows: int) -> str:
    """A deterministic sample of up to ``rows`` of the score's rows (the job's input table):
    its features, ordered by a fingerprint of the keys (uniform, the same at every retry)."""
    keys = ", ".join(_q(k) for k in config.score_keys)
    read = ", ".join(_q(f) for f in (features or config.score_keys))
    return (f"SELECT {read} FROM {_q(rows_table)}\n"
            f"ORDER BY FARM_FINGERPRINT(TO_JSON_STRING(STRUCT({keys})))\nLIMIT {int(rows)}")
