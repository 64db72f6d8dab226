"""A model's batch scoring on Vertex AI: the BatchPredictionJob request, BigQuery in and out.

The cloud twin of ``fullcycle score`` (``pipelines/workflows/score.py``), as pure
functions the runner's Vertex backend calls:

- ``scoring_view_sql``: the rows to score as a BigQuery view in the model's dataset -
  the keys, the copied columns and the model's features, nothing else (never the
  label), each feature's null replaced by the serving signature's missing marker
  (NaN, -2**63, ""), which is what the local endpoint does with a null: the
  TensorFlow serving container passes instances to ``serving_default`` as they are.
- ``batch_prediction_job``: the ``BatchPredictionJob`` for one score: the champion
  model version, the score's rows table as BigQuery source, the keys and copied
  columns excluded from the instances (Vertex attaches excluded fields to each
  output row, so the keys come back beside the prediction), a BigQuery table of
  its own for the output (Vertex refuses an existing one), the model's service
  account, the stack's labels plus the score id (how a retried request finds the
  job it created: batch prediction job ids are chosen by Vertex, not by the caller).
- ``rows_table_sql``: the DDL materializing the view's rows as the score's input table
  (one per score, so a later score never changes the rows a running job reads; it
  expires after ``ROWS_TABLE_DAYS``).
- ``create_job`` / ``find_job``: submits it through aiplatform's ``JobServiceClient``
  unless a job with the same score label exists; reads it back by that label (the
  oldest, when two instances raced: the newer one is cancelled by its creator, or,
  if that creator was killed first, by the next reader).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.cloud.google_api import seconds_of
from pipelines.config.model_config import ModelConfig
from pipelines.data.splits import scoring_source
from pipelines.stack.names import slug

SCORING_VIEW = "{model}_score_rows"
SCORE_LABEL = "fullcycle-score"  # its value: the score id (``runs.score_id_for``)
ROWS_TABLE_DAYS = 7
# serving_default's missing markers (pipelines.trainer.signatures), as BigQuery values
_MISSING = {"float": "CAST('NaN' AS FLOAT64)", "int": "-9223372036854775808", "string": "''"}


def stamp(schedule_time: dt.datetime) -> str:
    """A schedule time as label values and table names take it: ``20261206t1000z``."""
    return schedule_time.astimezone(dt.timezone.utc).strftime("%Y%m%dt%H%Mz")


def check_locations(model: str, region: str, bigquery_location: str) -> None:
    """Refuses a score whose job (in ``region``) would read and write the model's dataset
    in another location: Vertex AI batch prediction takes BigQuery tables in the job's
    region, or (assumed, as for Vertex datasets) in the multi-region holding it."""
    from pipelines.config.errors import ConfigError

    location, area = bigquery_location.lower(), region.lower().split("-", 1)[0]
    if location == region.lower() or (location, area) in (("us", "us"), ("eu", "europe")):
        return
    raise ConfigError(
        f"model {model!r} cannot be batch scored in region {region!r}: its dataset is in "
        f"BigQuery location {bigquery_location!r}, and a Vertex AI batch prediction job reads "
        f"and writes BigQuery in its own region (or that region's multi-region: US for "
        f"us-*, EU for europe-*); set the model's bigquery_location to {region!r} or to "
        "its multi-region, or score it from a stack in the dataset's region")


def scoring_view_sql(config: ModelConfig, project: str, dataset: str,
                     feature_types: dict[str, str]) -> str:
    """The view of the rows to score (``feature_types``: feature -> float | int | string,
    from the pushed model's ``serving.json``)."""
    source = scoring_source(config, f"`{project}.{dataset}`")
    keep = [f"`{c}`" for c in dict.fromkeys((*config.score_keys,
                                             *config.batch_prediction.columns))]
    features = [f"IFNULL(`{f}`, {_MISSING[feature_types[f]]}) AS `{f}`"
                for f in config.raw_feature_keys if f not in config.score_keys]
    return f"SELECT {', '.join(keep + features)}\nFROM ({source}) AS source"


def _suffix(score_id: str) -> str:
    """The table-name suffix of a score: its id's digest (``score-<model>-s<digest>``)."""
    return score_id.rsplit("-", 1)[-1]


def rows_table(config: ModelConfig, score_id: str) -> str:
    """The score's input table (in the model's dataset)."""
    return f"{SCORING_VIEW.format(model=config.name)}_{_suffix(score_id)}"


def rows_table_sql(config: ModelConfig, project: str, dataset: str,
                   feature_types: dict[str, str], score_id: str) -> str:
    """``CREATE OR REPLACE TABLE`` of the score's rows (a retried request makes the same)."""
    return (f"CREATE OR REPLACE TABLE `{project}.{dataset}.{rows_table(config, score_id)}`\n"
            f"OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), "
            f"INTERVAL {ROWS_TABLE_DAYS} DAY)) AS\n"
            + scoring_view_sql(config, project, dataset, feature_types))


def batch_prediction_job(config: ModelConfig, *, project: str, dataset: str,
                         model_version: str, service_account: str, labels: dict[str, str],
                         score_id: str, requested: dt.datetime, machine_type: str,
                         starting_replicas: int, max_replicas: int) -> dict[str, Any]:
    """The BatchPredictionJob (REST JSON) scoring ``config``'s rows with ``model_version``
    (``projects/P/locations/L/models/ID@VERSION``, the endpoint's champion); ``requested``
    (the schedule time, else when it was asked for) names it and its output table."""
    when, rows = stamp(requested), rows_table(config, score_id)
    return {
        "displayName": f"fc-{slug(config.name)}-score-{when}",
        "model": model_version,
        "inputConfig": {"instancesFormat": "bigquery",
                        "bigquerySource": {"inputUri": f"bq://{project}.{dataset}.{rows}"}},
        "instanceConfig": {"instanceType": "object", "excludedFields": list(dict.fromkeys(
            (*config.score_keys, *config.batch_prediction.columns)))},
        "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {
            "outputUri": f"bq://{project}.{dataset}.{config.score_destination}_{when}_"
                         f"{_suffix(score_id)}"}},
        "dedicatedResources": {"machineSpec": {"machineType": machine_type},
                               "startingReplicaCount": starting_replicas,
                               "maxReplicaCount": max_replicas},
        "serviceAccount": service_account,
        "labels": {**labels, SCORE_LABEL: score_id},
    }


def _client(region: str, credentials=None):
    from google.api_core.client_options import ClientOptions
    from google.cloud.aiplatform_v1 import JobServiceClient

    return JobServiceClient(
        credentials=credentials, transport="rest",
        client_options=ClientOptions(api_endpoint=f"{region}-aiplatform.googleapis.com"))


_ACTIVE = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_PAUSED",
           "JOB_STATE_UPDATING")


def find_job(project: str, region: str, score_id: str, credentials=None,
             stop_duplicates: bool = False):
    """The batch prediction job of ``score_id`` (the oldest, if several), or None;
    ``stop_duplicates``: newer jobs of the score still running are cancelled (their
    creator was killed between its create and its look for an older one)."""
    from pipelines.cloud.google_api import google_errors

    client = _client(region, credentials)
    with google_errors(f"listing the batch prediction jobs of score {score_id}"):
        found = sorted(client.list_batch_prediction_jobs(request={
            "parent": f"projects/{project}/locations/{region}",
            "filter": f'labels.{SCORE_LABEL}="{score_id}"'}),
            key=lambda j: (seconds_of(j.create_time) or 0.0, j.name))
    for duplicate in found[1:] if stop_duplicates else ():
        if duplicate.state.name in _ACTIVE:
            with google_errors(f"cancelling the duplicate batch prediction job "
                               f"{duplicate.name}"):
                client.cancel_batch_prediction_job(name=duplicate.name)
    return found[0] if found else None


def model_score_jobs(project: str, region: str, model_slug: str, credentials=None) -> list:
    """The model's score jobs (those with a score label), newest first."""
    from pipelines.cloud.google_api import google_errors

    with google_errors(f"listing the batch prediction jobs of model {model_slug}"):
        found = [job for job in _client(region, credentials).list_batch_prediction_jobs(
            request={"parent": f"projects/{project}/locations/{region}",
                     "filter": f'labels.model="{model_slug}"'})
            if SCORE_LABEL in job.labels]
    return sorted(found, key=lambda j: -(seconds_of(j.create_time) or 0.0))


def create_job(project: str, region: str, job: dict[str, Any], credentials=None) -> str:
    """Creates ``job`` unless one with its score label exists (a retried request); returns
    the job's resource name."""
    import json

    from google.cloud.aiplatform_v1 import BatchPredictionJob

    from pipelines.cloud.google_api import google_errors

    score_id = job["labels"][SCORE_LABEL]
    existing = find_job(project, region, score_id, credentials)
    if existing is not None:
        return existing.name
    client = _client(region, credentials)
    with google_errors(f"creating batch prediction job {job['displayName']}"):
        name = client.create_batch_prediction_job(
            parent=f"projects/{project}/locations/{region}",
            batch_prediction_job=BatchPredictionJob.from_json(json.dumps(job))).name
    # Another instance may have created one for the same score meanwhile (batch job ids are
    # Vertex's, so there is no ALREADY_EXISTS): the oldest stays, a newer one of ours stops.
    oldest = find_job(project, region, score_id, credentials)
    if oldest is not None and oldest.name != name:
        with google_errors(f"cancelling the duplicate batch prediction job {name}"):
            client.cancel_batch_prediction_job(name=name)
        return oldest.name
    return name
