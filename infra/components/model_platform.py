"""ModelPlatform: everything one model needs in production, with least privilege.

Per model: a BigQuery dataset, a GCS bucket (``pipeline_root/`` and ``tmp/`` age
out; pushed models under ``models/``, the baseline under ``baselines/`` and the
canary's ``rollouts/`` stay), a service account for its Vertex pipeline runs and
Dataflow workers (reaching only its own dataset and bucket, and allowed to act as
itself, which launching Dataflow with it as the worker account needs), a Cloud
Scheduler job that triggers the runner with an OIDC token, and a Vertex AI
endpoint (when enabled) that logs requests and responses to the dataset. The
runner may read the ``baselines/`` and ``hyperparameters/`` objects (it compiles each
run with them) and the bucket's metadata (the Vertex AI SDK checks who owns a run's
bucket). With the endpoint comes its canary: a second Scheduler job ticks the
runner's ``/rollouts/{model}:tick`` every canary interval, and the runner may
read the dataset (the request log) and write ``rollouts/`` objects (the rollout
state) in the bucket - no other object. With the endpoint comes batch scoring too:
the runner's ``POST /scores`` writes the score's rows table in the dataset, reads the
champion's ``models/`` objects (its ``serving.json``) and creates a BatchPredictionJob
running as the model's account; a model with ``scoring.schedule`` gets a Scheduler job
``fc-<model>-score`` POSTing it. Every call behind these grants is listed,
with its permission, in ``tests/infra/permissions.py``.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_gcp as gcp

from infra.components.monitoring import MonitoringJob
from pipelines.cloud.monitoring import TRAINING_VIEW, MonitoringSpec
from pipelines.stack.config import ModelEntry
from pipelines.stack.names import (
    BASELINE_PREFIX,
    HYPERPARAMETERS_PREFIX,
    MODEL_PREFIX,
    REQUEST_LOG_TABLE,
    ROLLOUT_PREFIX,
    RUNS_ROUTE,
    SCORE_PREFIX,
    SCORES_ROUTE,
    ModelNames,
    rollout_tick_route,
)

# Project-wide roles a model's pipeline needs: run BigQuery jobs (ExampleGen), run on
# Vertex AI and push to its endpoint, launch Dataflow jobs and be their workers (whose
# role also writes their logs). Every call behind them: tests/infra/permissions.py.
PROJECT_ROLES = ("roles/bigquery.jobUser", "roles/aiplatform.user",
                 "roles/dataflow.developer", "roles/dataflow.worker")
ARTIFACT_LIFETIME_DAYS = 90
AGING_PREFIXES = ("pipeline_root/", "tmp/")  # what CloudTarget writes runs and Dataflow to


def _prefix_grant(resource_name: str, bucket: gcp.storage.Bucket, bucket_name: str, prefix: str,
                  role: str, member: pulumi.Input[str], title: str, description: str,
                  opts: pulumi.ResourceOptions) -> gcp.storage.BucketIAMMember:
    """``role`` on the objects of ``bucket`` under ``prefix`` only (an IAM condition)."""
    return gcp.storage.BucketIAMMember(
        resource_name, bucket=bucket.name, role=role, member=member,
        condition=gcp.storage.BucketIAMMemberConditionArgs(
            title=title, description=description,
            expression=f'resource.name.startsWith("projects/_/buckets/{bucket_name}/'
                       f'objects/{prefix}")'),
        opts=opts)


def _post_model_job(resource_name: str, job_name: str, project: str, region: str,
                    description: str, schedule: str, time_zone: str, entry: ModelEntry,
                    route: str, runner_url: pulumi.Input[str],
                    scheduler_account_email: pulumi.Input[str],
                    opts: pulumi.ResourceOptions) -> gcp.cloudscheduler.Job:
    """A Scheduler job POSTing ``{"model": name}`` to the runner's ``route`` with an OIDC token
    (audience: the runner's URL) and the model's retry settings."""
    retry = entry.retry
    return gcp.cloudscheduler.Job(
        resource_name, project=project, region=region, name=job_name,
        description=description, schedule=schedule, time_zone=time_zone,
        attempt_deadline=f"{retry.attempt_deadline_seconds}s",
        retry_config=gcp.cloudscheduler.JobRetryConfigArgs(
            retry_count=retry.retry_count,
            min_backoff_duration=f"{retry.min_backoff_seconds}s",
            max_backoff_duration=f"{retry.max_backoff_seconds}s",
            max_doublings=retry.max_doublings),
        http_target=gcp.cloudscheduler.JobHttpTargetArgs(
            http_method="POST",
            uri=pulumi.Output.from_input(runner_url).apply(lambda u: f"{u}{route}"),
            body=base64.b64encode(json.dumps({"model": entry.name}).encode()).decode(),
            headers={"Content-Type": "application/json"},
            oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                service_account_email=scheduler_account_email, audience=runner_url)),
        opts=opts)


class ModelPlatform(pulumi.ComponentResource):
    """The per-model resources ``pulumi up`` creates for one entry of the stack config."""

    bucket_name: pulumi.Output[str]
    dataset_id: pulumi.Output[str]
    service_account_email: pulumi.Output[str]
    endpoint_name: pulumi.Output[str] | None

    def __init__(self, name: str, *, entry: ModelEntry, project: str, region: str,
                 labels: dict[str, str], runner_url: pulumi.Input[str],
                 runner_account_email: pulumi.Input[str],
                 scheduler_account_email: pulumi.Input[str], repository_id: pulumi.Input[str],
                 monitoring: MonitoringSpec | None = None, source_query: str | None = None,
                 apis: list[pulumi.Resource] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("fullcycle:infra:ModelPlatform", name, None, opts)
        # Every resource waits for the enabled APIs (``apis``, the Runner's).
        child = pulumi.ResourceOptions(parent=self, depends_on=list(apis or []))
        # A model's data outlives its stack entry: removed from the stack, its dataset
        # (training data, request logs) and bucket (runs, models, baseline) stay in GCP.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=True,
                                      depends_on=list(apis or []))
        ids = ModelNames(entry.name, project)

        dataset = gcp.bigquery.Dataset(
            f"{name}-dataset", project=project, dataset_id=ids.dataset_id,
            location=entry.bigquery_location, labels=labels,
            description=f"fullcycle {entry.name}: training data and endpoint request logs",
            opts=keep)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket", project=project, name=ids.bucket, location=region,
            uniform_bucket_level_access=True, public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True), labels=labels,
            lifecycle_rules=[gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                # Run artifacts age out; the data baseline and rollout state stay.
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    age=ARTIFACT_LIFETIME_DAYS, with_state="ANY",
                    matches_prefixes=list(AGING_PREFIXES)))],
            opts=keep)

        account = gcp.serviceaccount.Account(
            f"{name}-sa", project=project, account_id=ids.service_account_id,
            display_name=f"fullcycle {entry.name}: pipeline runs", opts=child)
        member = account.email.apply(lambda e: f"serviceAccount:{e}")
        gcp.bigquery.DatasetIamMember(f"{name}-sa-dataset-editor", project=project,
                                      dataset_id=dataset.dataset_id,
                                      role="roles/bigquery.dataEditor", member=member, opts=child)
        gcp.storage.BucketIAMMember(f"{name}-sa-bucket-object-admin", bucket=bucket.name,
                                    role="roles/storage.objectAdmin", member=member, opts=child)
        for role in PROJECT_ROLES:
            gcp.projects.IAMMember(f"{name}-sa-{role.split('/')[1].replace('.', '-')}",
                                   project=project, role=role, member=member, opts=child)
        # Each run launches Dataflow jobs whose workers run as this account: launching
        # with a user-managed worker account needs actAs on it, for the account itself too.
        gcp.serviceaccount.IAMMember(
            f"{name}-sa-acts-as-itself", service_account_id=account.name,
            role="roles/iam.serviceAccountUser", member=member, opts=child)
        gcp.artifactregistry.RepositoryIamMember(
            f"{name}-sa-image-reader", project=project, location=region,
            repository=repository_id, role="roles/artifactregistry.reader", member=member,
            opts=child)
        # The runner submits this model's runs as this account, and nothing else may.
        runner = pulumi.Output.from_input(runner_account_email).apply(
            lambda e: f"serviceAccount:{e}")
        gcp.serviceaccount.IAMMember(
            f"{name}-runner-acts-as-sa", service_account_id=account.name,
            role="roles/iam.serviceAccountUser", member=runner, opts=child)
        # The runner compiles each run with the model's data baseline, and reads nothing else.
        _prefix_grant(f"{name}-runner-reads-baseline", bucket, ids.bucket, BASELINE_PREFIX,
                      "roles/storage.objectViewer", runner, "baseline-only",
                      "Only the data baseline the next run is compiled with", child)
        # ... and with its last tuning result (the pointer to the hyperparameters it imports).
        _prefix_grant(f"{name}-runner-reads-hyperparameters", bucket, ids.bucket,
                      HYPERPARAMETERS_PREFIX, "roles/storage.objectViewer", runner,
                      "hyperparameters-only",
                      "Only the tuning result the next run is compiled with", child)
        # Submitting a run, the Vertex AI SDK reads the pipeline bucket's metadata to check
        # that it belongs to the project (storage.buckets.get); the role adds object names.
        gcp.storage.BucketIAMMember(f"{name}-runner-checks-bucket", bucket=bucket.name,
                                    role="roles/storage.legacyBucketReader", member=runner,
                                    opts=child)

        _post_model_job(f"{name}-schedule", ids.scheduler_job, project, region,
                        f"fullcycle: scheduled training of {entry.name}", entry.schedule,
                        entry.time_zone, entry, RUNS_ROUTE, runner_url, scheduler_account_email,
                        child)

        self.endpoint_name = None
        if entry.endpoint.enabled:
            endpoint = gcp.vertex.AiEndpoint(
                f"{name}-endpoint", project=project, location=region,
                display_name=ids.endpoint_display_name, labels=labels,
                description=f"fullcycle {entry.name}: canary-deployed model versions",
                predict_request_response_logging_config=(
                    gcp.vertex.AiEndpointPredictRequestResponseLoggingConfigArgs(
                        enabled=True, sampling_rate=1.0,
                        bigquery_destination=gcp.vertex.
                        AiEndpointPredictRequestResponseLoggingConfigBigqueryDestinationArgs(
                            output_uri=dataset.dataset_id.apply(
                                lambda d: f"bq://{project}.{d}.{REQUEST_LOG_TABLE}")))),
                opts=child)
            self.endpoint_name = endpoint.name
            self._canary(name, entry, ids, project, region, dataset, bucket, runner_url,
                         runner, scheduler_account_email, child)
            if monitoring is not None:
                self._monitoring(name, monitoring, project, dataset, endpoint, source_query,
                                 labels, child)
            self._scoring(name, entry, ids, project, region, dataset, bucket, runner_url,
                          runner, scheduler_account_email, child)

        self.bucket_name = bucket.name
        self.dataset_id = dataset.dataset_id
        self.service_account_email = account.email
        self.register_outputs({"bucket": self.bucket_name, "dataset": self.dataset_id,
                               "service_account": self.service_account_email,
                               "endpoint": self.endpoint_name})

    @staticmethod
    def _monitoring(name: str, spec: MonitoringSpec, project: str,
                    dataset: gcp.bigquery.Dataset, endpoint: gcp.vertex.AiEndpoint,
                    source_query: str | None, labels: dict[str, str],
                    child: pulumi.ResourceOptions) -> None:
        """The Model Monitoring job; a query source gets a view of its training data."""
        depends = [endpoint]
        if source_query is not None:  # skew needs a table: the source query as a view
            view = gcp.bigquery.Table(
                f"{name}-training-data", project=project, dataset_id=dataset.dataset_id,
                table_id=TRAINING_VIEW, labels=labels, deletion_protection=False,
                description="fullcycle: the model's source query, the training data "
                            "Model Monitoring measures skew against",
                view=gcp.bigquery.TableViewArgs(
                    query=dataset.dataset_id.apply(
                        lambda d: source_query.replace("{dataset}", f"`{project}.{d}`")),
                    use_legacy_sql=False),
                opts=child)
            depends.append(view)
        MonitoringJob(f"{name}-monitoring", spec,
                      opts=pulumi.ResourceOptions.merge(
                          child, pulumi.ResourceOptions(depends_on=depends)))

    @staticmethod
    def _canary(name: str, entry: ModelEntry, ids: ModelNames, project: str, region: str,
                dataset: gcp.bigquery.Dataset, bucket: gcp.storage.Bucket,
                runner_url: pulumi.Input[str], runner: pulumi.Output[str],
                scheduler_account_email: pulumi.Input[str],
                child: pulumi.ResourceOptions) -> None:
        """The runner's access to the canary's inputs and state, and the job that ticks it."""
        gcp.bigquery.DatasetIamMember(f"{name}-runner-reads-request-log", project=project,
                                      dataset_id=dataset.dataset_id,
                                      role="roles/bigquery.dataViewer", member=runner,
                                      opts=child)
        _prefix_grant(f"{name}-runner-writes-rollout-state", bucket, ids.bucket, ROLLOUT_PREFIX,
                      "roles/storage.objectUser", runner, "rollout-state-only",
                      "Only the canary's state and lease objects", child)
        gcp.cloudscheduler.Job(
            f"{name}-rollout", project=project, region=region, name=ids.rollout_job,
            description=f"fullcycle: canary analysis of {entry.name}'s endpoint",
            schedule=entry.canary.tick_schedule, time_zone="Etc/UTC",
            attempt_deadline="300s",  # the runner's request timeout
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=0),  # next tick
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                http_method="POST",
                uri=pulumi.Output.from_input(runner_url).apply(
                    lambda u: f"{u}{rollout_tick_route(entry.name)}"),
                oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                    service_account_email=scheduler_account_email, audience=runner_url)),
            opts=child)

    @staticmethod
    def _scoring(name: str, entry: ModelEntry, ids: ModelNames, project: str, region: str,
                 dataset: gcp.bigquery.Dataset, bucket: gcp.storage.Bucket,
                 runner_url: pulumi.Input[str], runner: pulumi.Output[str],
                 scheduler_account_email: pulumi.Input[str],
                 child: pulumi.ResourceOptions) -> None:
        """Batch scoring by the endpoint's champion: the runner's grants, and the Scheduler
        job when the stack schedules it. (The job runs as the model's account, which the
        runner may act as already and which reads and writes the dataset already.)"""
        # Each score's rows: CREATE OR REPLACE TABLE ... AS SELECT over the model's source.
        gcp.bigquery.DatasetIamMember(f"{name}-runner-writes-score-rows", project=project,
                                      dataset_id=dataset.dataset_id,
                                      role="roles/bigquery.dataEditor", member=runner,
                                      opts=child)
        # The champion's serving.json (its features' types), under the kept models only.
        _prefix_grant(f"{name}-runner-reads-models", bucket, ids.bucket, MODEL_PREFIX,
                      "roles/storage.objectViewer", runner, "kept-models-only",
                      "Only the kept models batch scoring reads the features of", child)
        # Each score's post-step (append to the destination): its lease and result marker.
        _prefix_grant(f"{name}-runner-writes-score-results", bucket, ids.bucket, SCORE_PREFIX,
                      "roles/storage.objectUser", runner, "score-results-only",
                      "Only the scores' append leases and result markers", child)
        scoring = entry.scoring
        if scoring.schedule is None:
            return
        _post_model_job(f"{name}-score", ids.score_job, project, region,
                        f"fullcycle: scheduled batch scoring by {entry.name}'s champion",
                        scoring.schedule, scoring.time_zone, entry, SCORES_ROUTE, runner_url,
                        scheduler_account_email, child)
