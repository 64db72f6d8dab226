"""The runner's cloud scores: ``POST /scores`` on the Vertex backend makes a BatchPredictionJob.

As with runs, nothing is kept in the Cloud Run container: the score is the batch
prediction job, found again by its ``fullcycle-score`` label (the score id, from
the request's ``Idempotency-Key`` or schedule time). A submit, in order:

1. the job of that score id, if there is one (a retry): answered as it is;
2. the endpoint's champion: the deployed model taking the most traffic (the
   stable model during a canary, which holds the larger share until promotion;
   at a tie the older one), as ``projects/P/locations/L/models/ID@VERSION``;
3. its features' types from the version's ``assets.extra/serving.json`` in GCS;
4. the score's rows materialized as a table of their own in the model's dataset
   (``CREATE OR REPLACE``: a retry after a kill makes the same table);
5. the job, running as the model's service account.

Each step is safe to repeat; a kill between any two leaves at most an input table
that expires. Two instances answering the same tick at the same moment may both
create a job (Vertex chooses batch job ids, so there is no ALREADY_EXISTS): the
newer one is cancelled by its creator (``create_job``), or, when that creator was
killed before it looked, by the score's next read or retried POST; reads take the older.

A score is done when its rows are in the destination: a SUCCEEDED job is followed by
the post-step (``pipelines/cloud/score_append.py``: data check, append, result
marker), run by whoever reads the score next (``GET /scores/{id}``) and, for scores
nobody read, by the model's next ``POST /scores`` (its ``CATCH_UP`` newest finished
scores, after its own job exists: the new score is accepted whatever happens to
them; none is started once the POST has taken ``CATCH_UP_SECONDS``, so the Scheduler's
attempt deadline and Cloud Run's request timeout are not spent on appends). Until the
marker exists the score answers RUNNING; a blocked score answers FAILED naming the
feature.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

from pipelines.cloud.batch_prediction import SCORE_LABEL
from pipelines.cloud.google_api import seconds_of
from pipelines.config.errors import ConfigError, FullcycleError
from pipelines.runner.runs import VERTEX_JOB_STATES, RunView
from pipelines.stack.names import slug

SCORE_ID = re.compile(r"score-[a-z0-9-]{1,56}")  # score ids this runner makes (label values)
CATCH_UP = 3  # earlier finished scores a POST /scores appends, at most
# ... and none started after the POST took this long: a post-step takes tens of seconds,
# the Scheduler's attempt deadline and Cloud Run's request timeout are minutes.
CATCH_UP_SECONDS = 60.0
_FINISHED = ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED")
_DTYPES = {"float32": "float", "float64": "float", "int64": "int", "int32": "int",
           "string": "string"}


def champion_version(deployed_models, traffic_split: dict[str, int], endpoint: str) -> str:
    """The versioned model name of the deployed model with the most traffic."""
    if not deployed_models:
        raise FullcycleError(f"endpoint {endpoint!r} serves no model: push a blessed model "
                             "before scoring")
    best = min(deployed_models, key=lambda d: (-traffic_split.get(d.id, 0),
                                                  seconds_of(d.create_time) or 0.0))
    if "@" in best.model:
        return best.model
    if not best.model_version_id:
        raise FullcycleError(f"deployed model {best.id} of {endpoint!r} names no model "
                             f"version ({best.model})")
    return f"{best.model}@{best.model_version_id}"


def feature_types(info: dict) -> dict[str, str]:
    """serving.json's features -> float | int | string."""
    types = {}
    for name, feature in info["features"].items():
        if feature["dtype"] not in _DTYPES:  # the model's own: a 422, no retry helps
            raise ConfigError(f"feature {name!r} of the served model has dtype "
                                 f"{feature['dtype']!r}; batch scoring takes "
                                 f"{', '.join(sorted(_DTYPES))}")
        types[name] = _DTYPES[feature["dtype"]]
    return types




class VertexScores:
    """Scores of one stack's models as Vertex AI BatchPredictionJobs."""

    def __init__(self, stack: str, credentials=None):
        from pipelines.stack.config import StackConfig

        config = StackConfig.load(stack)
        self.stack, self.credentials = stack, credentials
        self.project, self.region = config.project, config.region
        self._models = {slug(m.name): m.name for m in config.models}

    def _link(self, project: str, region: str, job_name: str) -> str:
        return (f"https://console.cloud.google.com/vertex-ai/locations/{region}/"
                f"batch-predictions/{job_name.rsplit('/', 1)[-1]}?project={project}")

    def view(self, job, result: dict | None = None, note: str | None = None) -> RunView:
        """The score: its job's state, and once the job SUCCEEDED, its post-step's
        ``result`` (the marker) or ``note`` (why it is not there yet)."""
        labels = dict(job.labels)
        state = VERTEX_JOB_STATES.get(job.state.name, "QUEUED")
        error = job.error.message or None if job.error else None
        detail = {"batch_prediction_job": job.name, "model_version": job.model,
                  "input": job.input_config.bigquery_source.input_uri,
                  "output": job.output_config.bigquery_destination.output_uri}
        if state == "SUCCEEDED":
            if result is None:  # predicted, not yet appended to the destination
                state, detail["status"] = "RUNNING", "appending"
                if note:
                    detail["note"] = note
            else:
                detail.update(status=result["status"], rows=result["rows"],
                              destination=result["destination"],
                              findings=result["findings"], checked_rows=result["checked_rows"],
                              baseline=result["baseline"])
                if result["status"] != "scored":
                    state, error = "FAILED", result["error"]
        return RunView(
            run_id=labels[SCORE_LABEL], model=self._models.get(labels.get("model", ""),
                                                                labels.get("model")),
            state=state, trigger=labels.get("trigger", "manual"),
            created=seconds_of(job.create_time), started=seconds_of(job.start_time),
            finished=seconds_of(job.end_time), link=self._link(self.project, self.region, job.name),
            error=error, detail=detail)

    def _finalized(self, job) -> RunView:
        """The score's view, its post-step run first if its job SUCCEEDED without one."""
        from pipelines.canary.controller import RolloutBusyError
        from pipelines.runner.logs import log_event

        if job.state.name not in _FINISHED:
            return self.view(job)
        try:
            return self.view(job, self.finalize(job))
        except RolloutBusyError:
            return self.view(job, note="another request is appending it")
        except FullcycleError as err:  # e.g. BigQuery unavailable: the next read retries
            log_event("ERROR", f"appending score {dict(job.labels)[SCORE_LABEL]} failed: {err}",
                      error=err, score_id=dict(job.labels)[SCORE_LABEL])
            return self.view(job, note=f"the append failed and is retried at the next "
                                       f"read: {err}")

    def finalize(self, job) -> dict:
        """The post-step of a SUCCEEDED job (``score_append.finalize``): its result."""
        from pipelines.cloud.score_append import ScoreJob, finalize, read_marker
        from pipelines.cloud.target import CloudTarget
        from pipelines.config.registry import load_config
        from pipelines.stack.config import StackConfig

        labels = dict(job.labels)
        model = self._models.get(labels.get("model", ""), labels.get("model"))
        target = CloudTarget.from_stack(model, self.stack)
        result = read_marker(target, labels[SCORE_LABEL], self.credentials)
        if result is not None:
            return result
        version = self._artifact_uri(target, job.model).rstrip("/").rsplit("/", 1)[-1]
        score = ScoreJob(
            score_id=labels[SCORE_LABEL], model_version=version,
            scored_at=seconds_of(job.create_time) or 0.0,
            input_table=job.input_config.bigquery_source.input_uri.removeprefix("bq://"),
            output_table=job.output_config.bigquery_destination.output_uri.removeprefix(
                "bq://"))
        return finalize(load_config(model), target, score,
                        StackConfig.load(self.stack).entry(model).bigquery_location,
                        self.credentials)

    def get(self, score_id: str) -> RunView | None:
        """The score (batch prediction job) of that id; None when Vertex AI has none."""
        from pipelines.cloud.batch_prediction import find_job

        if not SCORE_ID.fullmatch(score_id):
            return None  # not a score id this runner makes: no job carries it
        job = find_job(self.project, self.region, score_id, self.credentials,
                       stop_duplicates=True)
        return None if job is None else self._finalized(job)

    def catch_up(self, model: str, skip: str, until: float | None = None) -> list[str]:
        """Runs the post-step of up to ``CATCH_UP`` of the model's SUCCEEDED scores that
        have none yet (not ``skip``, the score just submitted), starting none after
        ``until`` (``time.monotonic()``); their ids."""
        from pipelines.cloud.batch_prediction import model_score_jobs

        done = []
        for job in model_score_jobs(self.project, self.region, slug(model), self.credentials):
            score_id = dict(job.labels)[SCORE_LABEL]
            if len(done) >= CATCH_UP or (until is not None and time.monotonic() >= until):
                break
            if score_id != skip and job.state.name in _FINISHED:
                if self._finalized(job).detail.get("status") != "appending":
                    done.append(score_id)
        return done

    def _artifact_uri(self, target, version: str) -> str:
        from google.cloud import aiplatform

        from pipelines.cloud.google_api import google_errors

        with google_errors(f"reading model {version}"):
            return aiplatform.Model(version, project=target.project, location=target.region,
                                    credentials=self.credentials).gca_resource.artifact_uri

    def _feature_types(self, target, version: str) -> dict[str, str]:
        from google.cloud import storage

        from pipelines.cloud.google_api import google_errors

        uri = self._artifact_uri(target, version)
        bucket, _, folder = uri.removeprefix("gs://").partition("/")
        name = f"{folder.rstrip('/')}/assets.extra/serving.json"
        with google_errors(f"reading gs://{bucket}/{name}"):
            blob = storage.Client(project=target.project, credentials=self.credentials) \
                .bucket(bucket).blob(name)
            return feature_types(json.loads(blob.download_as_bytes()))

    def submit(self, model: str, score_id: str, trigger: str,
               requested: dt.datetime) -> tuple[RunView, bool]:
        """Creates the batch prediction job of ``score_id``, or answers it (created: False)."""
        from google.cloud import bigquery

        from pipelines.cloud.batch_prediction import (
            batch_prediction_job,
            check_locations,
            create_job,
            find_job,
            rows_table_sql,
        )
        from pipelines.cloud.endpoint import find_endpoint
        from pipelines.cloud.google_api import google_errors
        from pipelines.cloud.target import CloudTarget
        from pipelines.config.registry import load_config
        from pipelines.stack.config import StackConfig

        started = time.monotonic()
        target = CloudTarget.from_stack(model, self.stack)
        existing = find_job(target.project, target.region, score_id, self.credentials,
                            stop_duplicates=True)
        if existing is not None:
            return self._finalized(existing), False
        if target.endpoint is None:  # the stack's setting: a 422, no retry helps
            raise ConfigError(f"model {model!r} has no endpoint in stack {self.stack!r} "
                                 "(endpoint.enabled is false): no champion to score with")
        entry = StackConfig.load(self.stack).entry(model)
        check_locations(model, target.region, entry.bigquery_location)
        with google_errors(f"reading endpoint {target.endpoint!r}"):
            endpoint = find_endpoint(target, self.credentials)
            version = champion_version(endpoint.gca_resource.deployed_models,
                                       dict(endpoint.traffic_split), target.endpoint)
        config = load_config(model)
        sql = rows_table_sql(config, target.project, target.dataset,
                             self._feature_types(target, version), score_id)
        with google_errors(f"writing the rows of score {score_id}"):
            bigquery.Client(project=target.project, credentials=self.credentials,
                            location=entry.bigquery_location).query(
                sql, job_config=bigquery.QueryJobConfig(labels=target.labels)).result()
        job = batch_prediction_job(
            config, project=target.project, dataset=target.dataset, model_version=version,
            service_account=target.service_account,
            labels={**target.labels, "trigger": trigger}, score_id=score_id,
            requested=requested, machine_type=entry.scoring.machine_type,
            starting_replicas=entry.scoring.starting_replicas,
            max_replicas=entry.scoring.max_replicas)
        create_job(target.project, target.region, job, self.credentials)
        view = self.view(find_job(target.project, target.region, score_id, self.credentials))
        try:  # the score is accepted: earlier ones nobody read are appended now
            self.catch_up(model, skip=score_id, until=started + CATCH_UP_SECONDS)
        except FullcycleError as err:
            from pipelines.runner.logs import log_event

            log_event("ERROR", f"catching up the scores of {model!r} failed: {err}", error=err,
                      model=model)
        return view, True
