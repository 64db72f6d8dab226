"""A cloud score's post-step: check the scored rows, append the job's output to the destination.

A BatchPredictionJob writes a table of its own (``<destination>_<when>_<digest>``:
Vertex AI refuses an existing output table). Once it has SUCCEEDED, this step, run by
the runner (``GET /scores/{id}``, and the model's next ``POST /scores`` catching up),
makes it a score as ``fullcycle score`` makes one locally. In order, under the score's
lease ``gs://<bucket>/scores/<score id>.lease`` (the owner-token lease of
``rollout_store.py``; a second runner instance answers "busy" and reports the score as
still being appended):

1. the result marker ``scores/<score id>.json``, if there is one: the score is done;
2. the destination: refused if it exists with other columns (scores are never
   replaced); rows of this score id already there (an append whose marker was never
   written: a kill between the two) make the marker now, without a second insert;
3. the data check: a deterministic sample of up to ``CHECK_ROWS`` of the job's input
   rows (missing markers read back as nulls) against the model's data baseline
   (``baselines/baseline.json``), with the DataValidator's checks and thresholds
   (``pipeline.score_check.check_batches``, the local check's own code). A blocking
   finding: nothing is appended, the marker says ``blocked`` and names the feature;
4. ``CREATE TABLE IF NOT EXISTS`` the destination, then one ``INSERT ... SELECT``
   (all rows or none, and none if rows of the score id are there: ``score_output``);
5. the job's output table set to expire in ``OUTPUT_TABLE_DAYS`` (its rows are in the
   destination now, or were refused: nothing reads it after the marker; Vertex AI
   writes a new one per score, which would otherwise stay in the dataset for ever),
   then the marker (created only if absent: ``ifGenerationMatch=0``).

Every step is repeatable. Right before the INSERT the holder extends its lease to
outlast that statement (``QUERY_TIMEOUT_SECONDS`` plus a margin, with the lease's
generation as precondition): a holder whose earlier steps outlasted
``APPEND_LEASE_SECONDS`` and whose lease another instance broke stops there instead
of inserting beside it (two INSERTs ... WHERE NOT EXISTS running at once both see no
rows of the score and both append). A holder killed mid-insert leaves the lease in place
until its insert has finished or failed in BigQuery, and the next holder sees its rows
in step 2.

Why not Vertex AI's batch Model Monitoring: it needs a training dataset set on the
model and monitoring objectives per job, computes its own skew statistics and alerts
by email, but does not stop the output from being used: the destination would get the
rows anyway. Our check is the DataValidator's, with the same thresholds as training
and as a local score, and it gates the append.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass

from pipelines.cloud.target import CloudTarget
from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import ModelConfig
from pipelines.stack.names import SCORE_PREFIX

APPEND_LEASE_SECONDS = 1800.0
QUERY_TIMEOUT_SECONDS = 600.0
INSERT_LEASE_SECONDS = QUERY_TIMEOUT_SECONDS + 300.0  # the INSERT's timeout, plus a margin
OUTPUT_TABLE_DAYS = 7  # how long a finished score's output table stays, for a look at it


class RowsGoneError(FullcycleError):
    """The score's input table expired before its post-step ran."""


@dataclass(frozen=True)
class ScoreJob:
    """What the post-step needs of a finished BatchPredictionJob (tables: ``p.d.t``)."""

    score_id: str
    model_version: str  # the pushed version's name, as local scores record it
    scored_at: float  # when the score was asked for (the job's creation)
    input_table: str
    output_table: str


def marker_name(score_id: str) -> str:
    return f"{SCORE_PREFIX}{score_id}.json"


def read_marker(target: CloudTarget, score_id: str, credentials=None) -> dict | None:
    """The score's result (a ``ScoreSummary`` as a dict), None before its post-step ran."""
    from google.cloud import storage

    from pipelines.cloud.google_api import google_errors

    with google_errors(f"reading gs://{target.bucket}/{marker_name(score_id)}"):
        blob = storage.Client(project=target.project, credentials=credentials) \
            .bucket(target.bucket).get_blob(marker_name(score_id))
        return None if blob is None else json.loads(blob.download_as_bytes())


def _write_marker(target: CloudTarget, result: dict, credentials=None) -> dict:
    """Creates the marker; a marker already there (a retried create) is answered instead."""
    from google.api_core.exceptions import PreconditionFailed
    from google.cloud import storage

    from pipelines.cloud.google_api import google_errors

    name = marker_name(result["score_id"])
    with google_errors(f"writing gs://{target.bucket}/{name}"):
        blob = storage.Client(project=target.project, credentials=credentials) \
            .bucket(target.bucket).blob(name)
        try:
            blob.upload_from_string(json.dumps(result, indent=1),
                                    content_type="application/json", if_generation_match=0)
        except PreconditionFailed:
            return read_marker(target, result["score_id"], credentials) or result
    return result


class _BigQuery:
    """The runner's BigQuery calls of one post-step, each naming what it did on failure."""

    def __init__(self, target: CloudTarget, location: str | None, credentials, score_id: str):
        from google.cloud import bigquery

        self.bigquery = bigquery
        self.client = bigquery.Client(project=target.project, credentials=credentials,
                                      location=location)
        self.labels, self.score_id = target.labels, score_id

    def table(self, name: str):
        """The table's schema as ``score_output.Column``s; None when there is no such table."""
        from google.api_core.exceptions import NotFound

        from pipelines.cloud.google_api import google_errors
        from pipelines.cloud.score_output import Column

        with google_errors(f"reading table {name}"):
            try:
                return [Column.of(f) for f in self.client.get_table(name).schema]
            except NotFound:
                return None

    def expire(self, name: str, days: float) -> None:
        """Makes table ``name`` expire ``days`` from now (tables.patch); none there: nothing."""
        import datetime as dt

        from google.api_core.exceptions import NotFound

        from pipelines.cloud.google_api import google_errors

        with google_errors(f"setting table {name} to expire"):
            try:
                table = self.client.get_table(name)
            except NotFound:
                return
            table.expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
            self.client.update_table(table, ["expires"])

    def run(self, sql: str, what: str, **values):
        """Runs ``sql`` with ``@score_id`` (and ``values``) as parameters; the job."""
        from pipelines.cloud.google_api import google_errors

        kinds = {"score_id": "STRING", "model_version": "STRING", "scored_at": "TIMESTAMP"}
        values = {"score_id": self.score_id, **values}
        parameters = [self.bigquery.ScalarQueryParameter(k, kinds[k], v)
                      for k, v in values.items() if f"@{k}" in sql]
        config = self.bigquery.QueryJobConfig(labels=self.labels, query_parameters=parameters,
                                              job_timeout_ms=int(QUERY_TIMEOUT_SECONDS * 1000))
        with google_errors(what):
            job = self.client.query(sql, job_config=config)
            job.result(timeout=QUERY_TIMEOUT_SECONDS)
            return job


def _baseline_here(target: CloudTarget, folder: str, credentials):
    """The model's data baseline with its statistics and schema copied into ``folder``
    (the comparison reads local files); None when no run was blessed yet."""
    import os

    from google.cloud import storage

    from pipelines.cloud.compile import read_cloud_baseline
    from pipelines.cloud.google_api import google_errors

    baseline = read_cloud_baseline(target, credentials)
    if baseline is None:
        return None
    bucket = storage.Client(project=target.project, credentials=credentials) \
        .bucket(target.bucket)
    local = {}
    for field, uri in (("statistics_uri", baseline.statistics_uri),
                       ("schema_uri", baseline.schema_uri)):
        name, prefix = uri.removeprefix(f"gs://{target.bucket}/").rstrip("/") + "/", field
        with google_errors(f"reading {uri}"):
            for blob in bucket.client.list_blobs(bucket, prefix=name):
                if blob.name.endswith("/"):  # a folder's placeholder object
                    continue
                path = os.path.join(folder, prefix, blob.name[len(name):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                blob.download_to_filename(path)
        local[field] = os.path.join(folder, prefix)
    return dataclasses.replace(baseline, **local)


def _as_nulls(table, features: list[str]):
    """The input rows' missing markers (NaN, -2**63, "") read back as the nulls they were."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipelines.features.kinds import MISSING_INT

    for name in features:
        values = table.column(name)
        if pa.types.is_floating(values.type):
            missing = pc.is_nan(values)
        elif pa.types.is_integer(values.type):
            missing = pc.equal(values, MISSING_INT)
        elif pa.types.is_string(values.type):
            missing = pc.equal(values, "")
        else:
            continue
        nulls = pc.if_else(pc.fill_null(missing, False), pa.scalar(None, values.type), values)
        table = table.set_column(table.schema.get_field_index(name), name, nulls)
    return table


def _check(config: ModelConfig, target: CloudTarget, bq: _BigQuery, job: ScoreJob,
           summary, credentials) -> None:
    """The data check of the score's rows (step 3); fills ``summary``."""
    from pipelines.cloud.score_output import sample_sql
    from pipelines.pipeline.score_check import CHECK_ROWS, check_batches

    columns = bq.table(job.input_table)
    if columns is None:
        raise RowsGoneError(f"the rows of score {job.score_id} ({job.input_table}) are gone "
                             "(their table expired): nothing can be checked or appended")
    with tempfile.TemporaryDirectory() as folder:
        baseline = _baseline_here(target, folder, credentials)
        if baseline is None:
            return  # no data baseline yet: as locally, the score is not checked
        names = {c.name for c in columns}
        features = [f for f in config.raw_feature_keys if f in names]
        sample = bq.run(sample_sql(config, job.input_table, features, CHECK_ROWS),
                        f"sampling the rows of score {job.score_id}")
        table = _as_nulls(sample.result().to_arrow(create_bqstorage_client=False), features)
        check_batches(config, baseline, iter(table.to_batches()), summary)


def _failed_rows(bq: _BigQuery, job: ScoreJob, output: list, summary) -> None:
    from pipelines.cloud.score_output import failed_sql

    sql = failed_sql(job.output_table, output)
    if sql is None:
        return
    (row,) = list(bq.run(sql, f"counting the failed rows of {job.output_table}").result())
    if row["n"]:
        summary.findings.append({
            "split": "score", "feature": "(prediction)", "check": "prediction_errors",
            "value": float(row["n"]), "threshold": None, "baseline": "",
            "now": f"{row['n']} row(s) failed at Vertex AI", "action": "warn",
            "detail": f"left out of the append; e.g. {row['message']}"})


def _append(config: ModelConfig, target: CloudTarget, job: ScoreJob, location: str | None,
            credentials, lease) -> dict:
    """Steps 2-5, the lease held (``lease``: its ``GcsRolloutStore``)."""
    from pipelines.cloud.score_output import (
        append_sql,
        appended_sql,
        create_sql,
        scores_select,
    )
    from pipelines.pipeline.score_check import score_columns
    from pipelines.report.scores import ScoreSummary

    started = time.monotonic()
    destination = f"{target.project}.{target.dataset}.{config.score_destination}"
    summary = ScoreSummary(job.score_id, config.name, job.model_version, destination,
                           job.scored_at)
    bq = _BigQuery(target, location, credentials, job.score_id)

    def done(status: str, error: str | None = None) -> dict:
        summary.status, summary.error = status, error
        summary.seconds = time.monotonic() - started
        bq.expire(job.output_table, OUTPUT_TABLE_DAYS)  # before the marker: repeated if killed
        return _write_marker(target, {**summary.as_dict(), "output_table": job.output_table},
                             credentials)

    found = bq.table(destination)
    if found is not None:
        wanted = score_columns(config)
        if sorted(c.name for c in found) != sorted(wanted):
            return done("failed", f"destination table {destination} exists with columns "
                        f"{', '.join(c.name for c in found)}; these scores have "
                        f"{', '.join(wanted)} (set batch_prediction.destination to a new "
                        "table: scores are never replaced); nothing was appended")
        (row,) = list(bq.run(appended_sql(destination), "reading the destination").result())
        if row["n"]:  # appended before, its marker never written (killed between the two)
            summary.rows = row["n"]
            return done("scored")
    output = bq.table(job.output_table)
    if output is None:
        return done("failed", f"the batch prediction output {job.output_table} does not "
                              "exist; nothing was appended")
    try:
        _check(config, target, bq, job, summary, credentials)
    except RowsGoneError as err:
        return done("failed", str(err))
    if summary.blocking:
        from pipelines.pipeline.score_check import ScoreBlockedError

        return done("blocked", str(ScoreBlockedError(summary)))
    _failed_rows(bq, job, output, summary)
    bq.run(create_sql(destination, scores_select(config, job.output_table, output, True)),
           f"creating {destination}")
    lease.extend(INSERT_LEASE_SECONDS)  # still ours, and until the INSERT has ended
    inserted = bq.run(append_sql(config, destination,
                                 scores_select(config, job.output_table, output)),
                      f"appending score {job.score_id} to {destination}",
                      model_version=job.model_version,
                      scored_at=_utc(job.scored_at))
    summary.rows = int(inserted.num_dml_affected_rows or 0)
    return done("scored")


def _utc(seconds: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def finalize(config: ModelConfig, target: CloudTarget, job: ScoreJob,
             location: str | None = None, credentials=None) -> dict:
    """The score's result marker, running the post-step first if it has none. Raises
    ``RolloutBusyError`` while another instance holds the score's lease."""
    from pipelines.cloud.rollout_store import GcsRolloutStore

    result = read_marker(target, job.score_id, credentials)
    if result is not None:
        return result
    store = GcsRolloutStore(target.bucket, target.model, target.project, credentials,
                            lease_seconds=APPEND_LEASE_SECONDS,
                            lease_name=f"{SCORE_PREFIX}{job.score_id}.lease")
    with store.exclusive(holder=f"the append of score {job.score_id}"):
        result = read_marker(target, job.score_id, credentials)  # done while we waited
        return result if result is not None else _append(config, target, job, location,
                                                         credentials, store)
