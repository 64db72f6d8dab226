"""A model's batch scoring on Vertex AI: the BatchPredictionJob request, BigQuery in and out.

The cloud twin of ``fullcycle score`` (``pipelines/workflows/score.py``), as pure
functions the runner's Vertex backend calls:

- ``scoring_view_sql``: the rows to score as a BigQuery view in the model's dataset -
  the keys, the copied columns and the model's features, nothing else (never the
  label), each feature's null replaced by the serving signature's missing marker
  (NaN, -2**63, ""), which is what the local endpoint does with a null: the
  TensorFlow serving container passes instances to ``serving_default`` as they are.
- ``batch_prediction_job``: the ``BatchPredictionJob`` for one scheduled score:
  the champion model version, the view as BigQuery source, the keys and copied
  columns excluded from the instances (Vertex attaches excluded fields to each
  output row, so the keys come back beside the prediction), a BigQuery table of
  its own for the output (Vertex refuses an existing one: a post-step appends it to
  the destination with ``score_id``), the model's service account, the stack's
  labels plus the schedule time (how a retried request finds the job it created:
  batch prediction job ids are chosen by Vertex, not by the caller).
- ``create_job``: submits it through aiplatform's ``JobServiceClient``, unless a job
  with the same schedule label exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.config.model_config import ModelConfig
from pipelines.data.splits import scoring_source
from pipelines.stack.names import slug

SCORING_VIEW = "{model}_score_rows"
SCHEDULE_LABEL = "fullcycle-schedule"
# serving_default's missing markers (pipelines.trainer.signatures), as BigQuery values
_MISSING = {"float": "CAST('NaN' AS FLOAT64)", "int": "-9223372036854775808", "string": "''"}


def stamp(schedule_time: dt.datetime) -> str:
    """A schedule time as label values and table names take it: ``20261206t1000z``."""
    return schedule_time.astimezone(dt.timezone.utc).strftime("%Y%m%dt%H%Mz")


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


def batch_prediction_job(config: ModelConfig, *, project: str, dataset: str,
                         model_version: str, service_account: str, labels: dict[str, str],
                         schedule_time: dt.datetime, machine_type: str,
                         starting_replicas: int, max_replicas: int) -> dict[str, Any]:
    """The BatchPredictionJob (REST JSON) scoring ``config``'s rows with ``model_version``
    (``projects/P/locations/L/models/ID@VERSION``, the endpoint's champion)."""
    when = stamp(schedule_time)
    view = SCORING_VIEW.format(model=config.name)
    return {
        "displayName": f"fc-{slug(config.name)}-score-{when}",
        "model": model_version,
        "inputConfig": {"instancesFormat": "bigquery",
                        "bigquerySource": {"inputUri": f"bq://{project}.{dataset}.{view}"}},
        "instanceConfig": {"instanceType": "object", "excludedFields": list(dict.fromkeys(
            (*config.score_keys, *config.batch_prediction.columns)))},
        "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {
            "outputUri": f"bq://{project}.{dataset}.{config.score_destination}_{when}"}},
        "dedicatedResources": {"machineSpec": {"machineType": machine_type},
                               "startingReplicaCount": starting_replicas,
                               "maxReplicaCount": max_replicas},
        "serviceAccount": service_account,
        "labels": {**labels, SCHEDULE_LABEL: when},
    }


def create_job(project: str, region: str, job: dict[str, Any], credentials=None) -> str:
    """Creates ``job`` unless one with its display name and schedule label exists (a retried
    request); returns the job's resource name."""
    import json

    from google.api_core.client_options import ClientOptions
    from google.cloud.aiplatform_v1 import BatchPredictionJob, JobServiceClient

    from pipelines.cloud.google_api import google_errors, quoted

    client = JobServiceClient(
        credentials=credentials, transport="rest",
        client_options=ClientOptions(api_endpoint=f"{region}-aiplatform.googleapis.com"))
    parent = f"projects/{project}/locations/{region}"
    with google_errors(f"listing batch prediction jobs of {job['displayName']}"):
        wanted = (f'display_name="{quoted(job["displayName"])}" AND '
                  f'labels.{SCHEDULE_LABEL}="{job["labels"][SCHEDULE_LABEL]}"')
        found = list(client.list_batch_prediction_jobs(request={"parent": parent,
                                                               "filter": wanted}))
    if found:
        return found[0].name
    with google_errors(f"creating batch prediction job {job['displayName']}"):
        return client.create_batch_prediction_job(
            parent=parent, batch_prediction_job=BatchPredictionJob.from_json(json.dumps(job))
        ).name
