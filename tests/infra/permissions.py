"""Every Google API call the runtime makes, by identity, and what predefined roles allow.

``CALLS`` is taken from the code (each row names the function that makes the call,
checked to exist) and from the libraries it drives (TFX's BigQueryExampleGen, Beam's
BigQuery read and Dataflow runner, TensorFlow's GCS filesystem, the Vertex AI SDK's
PipelineJob.submit). The rehearsal's recorded requests (``calls.jsonl``) are checked
against it (``tests/infra/recorded_calls.py``): a request of an identity the table does
not list fails the rehearsal's e2e test.

``ROLES`` holds, per predefined role the plan grants, the permissions of that role
the runtime relies on: a subset of each role's full list in Google's IAM roles
reference (https://cloud.google.com/iam/docs/roles-permissions and its per-service
pages: aiplatform, bigquery, storage, iam, monitoring, dataflow, artifactregistry,
run; checked December 2026). A permission is only listed where the reference lists
it for that role.

Scopes: ``project``; ``bucket`` (the model's bucket) or ``bucket:<prefix>`` (an IAM
condition on object names); ``dataset`` (the model's); ``account`` (the model's
service account); ``service`` (the runner's Cloud Run service); ``repository``
(the stack's Artifact Registry repository). A project grant covers every scope, a
bucket grant covers its prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE = "https://cloud.google.com/iam/docs/roles-permissions"

ROLES: dict[str, frozenset[str]] = {
    "roles/aiplatform.user": frozenset({
        "aiplatform.pipelineJobs.create", "aiplatform.pipelineJobs.get",
        "aiplatform.pipelineJobs.list",
        "aiplatform.endpoints.list", "aiplatform.endpoints.get", "aiplatform.endpoints.update",
        "aiplatform.endpoints.deploy", "aiplatform.endpoints.undeploy",
        "aiplatform.models.list", "aiplatform.models.get", "aiplatform.models.upload",
        "aiplatform.modelDeploymentMonitoringJobs.list",
        "aiplatform.modelDeploymentMonitoringJobs.get",
        "aiplatform.modelDeploymentMonitoringJobs.create",
        "aiplatform.modelDeploymentMonitoringJobs.update",
        "aiplatform.batchPredictionJobs.create", "aiplatform.batchPredictionJobs.list",
        "aiplatform.batchPredictionJobs.cancel", "resourcemanager.projects.get"}),
    "roles/bigquery.jobUser": frozenset({
        "bigquery.jobs.create", "resourcemanager.projects.get"}),
    "roles/bigquery.dataEditor": frozenset({
        "bigquery.datasets.get", "bigquery.tables.create", "bigquery.tables.delete",
        "bigquery.tables.export", "bigquery.tables.get", "bigquery.tables.getData",
        "bigquery.tables.update", "bigquery.tables.updateData"}),
    "roles/bigquery.dataViewer": frozenset({
        "bigquery.datasets.get", "bigquery.tables.get", "bigquery.tables.getData"}),
    "roles/storage.objectAdmin": frozenset({
        "storage.objects.create", "storage.objects.delete", "storage.objects.get",
        "storage.objects.list"}),
    "roles/storage.objectUser": frozenset({
        "storage.objects.create", "storage.objects.delete", "storage.objects.get",
        "storage.objects.list"}),
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/storage.legacyBucketReader": frozenset({"storage.buckets.get",
                                                   "storage.objects.list"}),
    "roles/iam.serviceAccountUser": frozenset({"iam.serviceAccounts.actAs"}),
    "roles/monitoring.viewer": frozenset({"monitoring.timeSeries.list",
                                          "resourcemanager.projects.get"}),
    "roles/dataflow.developer": frozenset({
        "dataflow.jobs.create", "dataflow.jobs.get", "dataflow.messages.list",
        "resourcemanager.projects.get"}),
    # "provides the permissions necessary for a Compute Engine service account to execute
    # work units for a Dataflow pipeline"; also writes the workers' logs.
    "roles/dataflow.worker": frozenset({
        "dataflow.workItems.lease", "dataflow.workItems.update",
        "dataflow.workItems.sendMessage", "dataflow.jobs.get", "logging.logEntries.create",
        "storage.buckets.get", "storage.objects.create", "storage.objects.get"}),
    "roles/artifactregistry.reader": frozenset({
        "artifactregistry.repositories.downloadArtifacts"}),
    "roles/run.invoker": frozenset({"run.routes.invoke"}),
}


@dataclass(frozen=True)
class Call:
    """One Google API call: who makes it, the permission it needs, where, and in which code."""

    identity: str  # runner | model | scheduler | invoker
    permission: str
    scope: str
    what: str
    code: str  # module:attribute that makes (or drives) the call


def _calls(identity: str, code: str, what: str, scope: str, *permissions: str) -> list[Call]:
    return [Call(identity, p, scope, what, code) for p in permissions]


_RUNNER_SUBMIT = "pipelines.runner.vertex:VertexBackend.submit"
_SCORE = "pipelines.runner.vertex_scores:VertexScores.submit"
_APPEND = "pipelines.cloud.score_append:finalize"
_TICK = "pipelines.cloud.endpoint:VertexEndpoint"
_MONITORING = "pipelines.cloud.monitoring:point_at_serving"
_EXAMPLE_GEN = "pipelines.cloud.bigquery_example_gen:Executor"
_PUSH = "pipelines.cloud.registry:deploy_version"
_DATAFLOW = "pipelines.cloud.target:CloudTarget.beam_pipeline_args"

CALLS: list[Call] = [
    # The runner (Cloud Run, fc-runner): compile and submit a run.
    *_calls("runner", "pipelines.cloud.compile:read_cloud_baseline", "read baselines/baseline.json",
            "bucket:baselines/", "storage.objects.get"),
    *_calls("runner", "pipelines.cloud.compile:read_cloud_hyperparameters",
            "read hyperparameters/hyperparameters.json", "bucket:hyperparameters/",
            "storage.objects.get"),
    *_calls("runner", _RUNNER_SUBMIT, "create the PipelineJob", "project",
            "aiplatform.pipelineJobs.create"),
    *_calls("runner", _RUNNER_SUBMIT, "run it as the model's account", "account",
            "iam.serviceAccounts.actAs"),
    *_calls("runner", _RUNNER_SUBMIT, "SDK: does the pipeline bucket belong to the project",
            "bucket", "storage.buckets.get"),
    *_calls("runner", _RUNNER_SUBMIT, "SDK: the project's number (Resource Manager)",
            "project", "resourcemanager.projects.get"),
    # The runner: the PipelineJob is the run (a retried submit reads it first; GET /runs).
    *_calls("runner", "pipelines.runner.vertex:VertexBackend.get", "read a run", "project",
            "aiplatform.pipelineJobs.get"),
    *_calls("runner", "pipelines.runner.vertex:VertexBackend.list", "list a model's runs",
            "project", "aiplatform.pipelineJobs.list"),
    # The runner: a rollout tick.
    *_calls("runner", "pipelines.cloud.endpoint:endpoint_named", "find the endpoint", "project",
            "aiplatform.endpoints.list"),
    *_calls("runner", f"{_TICK}.describe", "read deployed models and traffic", "project",
            "aiplatform.endpoints.get"),
    *_calls("runner", f"{_TICK}.set_split", "move traffic", "project",
            "aiplatform.endpoints.update"),
    *_calls("runner", f"{_TICK}.undeploy", "undeploy the loser", "project",
            "aiplatform.endpoints.undeploy"),
    *_calls("runner", f"{_TICK}._logged_predictions", "query the request log", "project",
            "bigquery.jobs.create"),
    *_calls("runner", f"{_TICK}._logged_predictions", "read the request log table", "dataset",
            "bigquery.tables.getData"),
    *_calls("runner", f"{_TICK}._series", "latency and errors from Cloud Monitoring", "project",
            "monitoring.timeSeries.list"),
    *_calls("runner", "pipelines.cloud.rollout_store:GcsRolloutStore", "lease and state",
            "bucket:rollouts/", "storage.objects.get", "storage.objects.create",
            "storage.objects.delete"),
    # The runner: after a tick, the Model Monitoring job follows the serving models.
    *_calls("runner", _MONITORING, "find, create or update the monitoring job", "project",
            "aiplatform.modelDeploymentMonitoringJobs.list",
            "aiplatform.modelDeploymentMonitoringJobs.get",
            "aiplatform.modelDeploymentMonitoringJobs.create",
            "aiplatform.modelDeploymentMonitoringJobs.update", "aiplatform.endpoints.get"),
    # The runner: POST /scores (pipelines/runner/vertex_scores.py), on a model with an endpoint.
    *_calls("runner", _SCORE, "find the score's job, create it (cancel a raced duplicate)",
            "project", "aiplatform.batchPredictionJobs.list",
            "aiplatform.batchPredictionJobs.create", "aiplatform.batchPredictionJobs.cancel",
            "aiplatform.endpoints.list", "aiplatform.endpoints.get", "aiplatform.models.get"),
    *_calls("runner", _SCORE, "the champion's models/<version>/assets.extra/serving.json",
            "bucket:models/", "storage.objects.get"),
    *_calls("runner", _SCORE, "CREATE OR REPLACE TABLE of the score's rows", "project",
            "bigquery.jobs.create"),
    *_calls("runner", _SCORE, "... reading the source, writing the rows table", "dataset",
            "bigquery.tables.getData", "bigquery.tables.create", "bigquery.tables.update",
            "bigquery.tables.updateData"),
    *_calls("runner", _SCORE, "the job runs as the model's account", "account",
            "iam.serviceAccounts.actAs"),
    *_calls("scheduler", "pipelines.stack.names:SCORES_ROUTE", "POST /scores", "service",
            "run.routes.invoke"),
    # The runner: a SUCCEEDED score's post-step (GET /scores/{id}, or the next POST's
    # catch-up): the job and its model version, the lease and marker, the data check
    # against the baseline, the append to the destination (score_append.py).
    *_calls("runner", "pipelines.runner.vertex_scores:VertexScores.finalize",
            "find the score's jobs, read its model version's artifact URI", "project",
            "aiplatform.batchPredictionJobs.list", "aiplatform.models.get"),
    *_calls("runner", _APPEND, "the score's lease and result marker", "bucket:scores/",
            "storage.objects.get", "storage.objects.create", "storage.objects.delete"),
    *_calls("runner", "pipelines.cloud.score_append:_baseline_here",
            "baselines/baseline.json, the baseline's statistics and schema", "bucket:baselines/",
            "storage.objects.get"),
    *_calls("runner", "pipelines.cloud.score_append:_baseline_here",
            "list the baseline's statistics and schema objects", "bucket",
            "storage.objects.list"),
    *_calls("runner", _APPEND, "sample the rows, create and append to the destination",
            "project", "bigquery.jobs.create"),
    *_calls("runner", _APPEND, "... the output, rows and destination tables; the output "
            "set to expire", "dataset", "bigquery.tables.get", "bigquery.tables.getData",
            "bigquery.tables.create", "bigquery.tables.updateData", "bigquery.tables.update"),
    # The BatchPredictionJob, as fc-<model>: reads the rows table, writes its output table.
    *_calls("model", _SCORE, "batch prediction: BigQuery in and out", "dataset",
            "bigquery.tables.getData", "bigquery.tables.create", "bigquery.tables.updateData"),
    *_calls("model", _SCORE, "batch prediction: its BigQuery jobs", "project",
            "bigquery.jobs.create"),
    # Who may start runs.
    *_calls("scheduler", "pipelines.stack.names:RUNS_ROUTE", "POST /runs and rollout ticks",
            "service", "run.routes.invoke"),
    *_calls("invoker", "pipelines.stack.names:RUNS_ROUTE", "POST /runs (e.g. from Airflow)",
            "service", "run.routes.invoke"),
    # Every pipeline task (fc-<model> on Vertex AI): artifacts, baselines, kept models.
    *_calls("model", "pipelines.pipeline.baseline:record_baseline", "read and write artifacts",
            "bucket", "storage.objects.get", "storage.objects.list", "storage.objects.create",
            "storage.objects.delete"),
    # The tuning pipeline's recorder: the best values, then the pointer moved (copy, delete).
    *_calls("model", "pipelines.pipeline.hyperparameters:record_hyperparameters",
            "write hyperparameters/<version>/ and the pointer", "bucket", "storage.objects.get",
            "storage.objects.list", "storage.objects.create", "storage.objects.delete"),
    # TensorFlow's GCS filesystem: makedirs walks up to the bucket root and asks whether the
    # bucket exists (GcsFileSystem::BucketExists) before creating a component's output folder.
    *_calls("model", "pipelines.pipeline.baseline:record_baseline",
            "TF's makedirs checks the bucket exists", "bucket", "storage.buckets.get"),
    # ExampleGen: the split queries, their results through a temp table in the dataset.
    *_calls("model", _EXAMPLE_GEN, "query and extract jobs", "project", "bigquery.jobs.create"),
    *_calls("model", _EXAMPLE_GEN, "read the source, the temp dataset and table", "dataset",
            "bigquery.tables.getData", "bigquery.datasets.get", "bigquery.tables.create",
            "bigquery.tables.updateData", "bigquery.tables.get", "bigquery.tables.export",
            "bigquery.tables.delete"),
    # Beam components launch Dataflow jobs whose workers run as fc-<model>.
    *_calls("model", _DATAFLOW, "launch and follow the job", "project", "dataflow.jobs.create",
            "dataflow.jobs.get", "dataflow.messages.list"),
    *_calls("model", _DATAFLOW, "workers run as the model's account", "account",
            "iam.serviceAccounts.actAs"),
    *_calls("model", _DATAFLOW, "workers lease and report work, write logs", "project",
            "dataflow.workItems.lease", "dataflow.workItems.update",
            "logging.logEntries.create"),
    *_calls("model", _DATAFLOW, "workers pull the runner image", "repository",
            "artifactregistry.repositories.downloadArtifacts"),
    # The Pusher: keep the model, upload a version, deploy it at the first canary weight.
    *_calls("model", _PUSH, "SDK: the project's number (Resource Manager)", "project",
            "resourcemanager.projects.get"),
    *_calls("model", _PUSH, "registry entry and version", "project", "aiplatform.models.list",
            "aiplatform.models.upload", "aiplatform.models.get"),
    *_calls("model", _PUSH, "the endpoint's deployed models, deploy", "project",
            "aiplatform.endpoints.list", "aiplatform.endpoints.get",
            "aiplatform.endpoints.deploy"),
    *_calls("model", "pipelines.cloud.registry:keep_model",
            "copy pipeline_root/.../Format-Serving to models/<version>/", "bucket",
            "storage.objects.list", "storage.objects.get", "storage.objects.create"),
    *_calls("model", "pipelines.cloud.push:push_version",
            "the model's lease around check-and-deploy", "bucket:rollouts/",
            "storage.objects.get", "storage.objects.create", "storage.objects.delete"),
]


def covers(granted: str, needed: str) -> bool:
    """Whether a grant at scope ``granted`` applies to a call at scope ``needed``."""
    return granted in ("project", needed) or (granted == "bucket" and
                                              needed.startswith("bucket:"))
