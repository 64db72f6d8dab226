"""The runner's Vertex AI backend: the PipelineJob is the run, and its only record.

Nothing is kept in the Cloud Run container (instances come and go, several run
at once): the run id is the PipelineJob id, so

- a submit first reads the job of that id (a retry answers it without compiling);
  otherwise it compiles and creates it, and a create that another instance or an
  earlier attempt already made gets Vertex AI's ALREADY_EXISTS, which answers
  the existing job too;
- ``get`` and ``list`` read the jobs from Vertex AI: state, times, console link,
  and what the run's Pusher did (its ``pushed_model`` output's properties).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import tempfile
from pathlib import Path

from pipelines.runner.runs import VERTEX_STATES, RunView, rfc3339_seconds
from pipelines.stack.config import StackConfig
from pipelines.stack.names import slug

CREATE_TIMEOUT_SECONDS = 60.0  # well inside the Scheduler attempt and Cloud Run deadlines
JOB_ID = re.compile(r"fullcycle-[a-z0-9-]{1,118}")  # run ids this runner makes (job ids)


def _seconds(stamp: str | None) -> float | None:
    """An API time as seconds. Protobuf's JSON writes 0, 3, 6 or 9 fractional digits;
    Python 3.10's ``fromisoformat`` takes only 3 or 6 (see :func:`rfc3339_seconds`)."""
    return rfc3339_seconds(stamp) if stamp else None


def _push_outcome(job: dict) -> tuple[str | None, str | None]:
    """(pushed version, what the push did) from the Pusher task's output, if it ran."""
    for task in job.get("jobDetail", {}).get("taskDetails", []):
        if task.get("taskName") != "Pusher":
            continue
        for artifact in task.get("outputs", {}).get("pushed_model", {}).get("artifacts", []):
            metadata = artifact.get("metadata", {})
            note = metadata.get("deployment")
            try:
                note = json.loads(note).get("note") if note else None
            except (ValueError, AttributeError):
                pass
            version = metadata.get("pushed_version") if metadata.get("pushed") else None
            return version, note
    return None, None


class VertexBackend:
    """Compiles a model's pipeline and submits it to Vertex AI Pipelines; reads jobs back."""

    name = "vertex"

    def __init__(self, stack: str, credentials=None):
        config = StackConfig.load(stack)
        self.stack, self.credentials = stack, credentials
        self.project, self.region = config.project, config.region
        self._models = {slug(m.name): m.name for m in config.models}
        self._client_instance = None
        self._scores = None

    @property
    def _parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def _client(self):
        from google.cloud.aiplatform import initializer, utils

        if self._client_instance is None:
            self._client_instance = initializer.global_config.create_client(
                client_class=utils.PipelineJobClientWithOverride, credentials=self.credentials,
                location_override=self.region)
        return self._client_instance

    def _link(self, run_id: str) -> str:
        return (f"https://console.cloud.google.com/vertex-ai/locations/{self.region}/pipelines/"
                f"runs/{run_id}?project={self.project}")

    def _view(self, job) -> RunView:
        data = type(job).to_dict(job, preserving_proto_field_name=False,
                                 use_integers_for_enums=False)
        run_id = data["name"].rsplit("/", 1)[-1]
        labels = data.get("labels", {})
        pushed_version, deployment = _push_outcome(data)
        return RunView(
            run_id=run_id, model=self._models.get(labels.get("model", ""), labels.get("model")),
            state=VERTEX_STATES.get(data.get("state", ""), "QUEUED"),
            trigger=labels.get("trigger", "manual"), created=_seconds(data.get("createTime")),
            started=_seconds(data.get("startTime")), finished=_seconds(data.get("endTime")),
            link=self._link(run_id), pushed_version=pushed_version, deployment=deployment,
            error=(data.get("error") or {}).get("message") or None,
            detail={"pipeline_job": data["name"]})

    def get(self, run_id: str) -> RunView | None:
        """The run (PipelineJob) of that id; None when Vertex AI has none."""
        from google.api_core.exceptions import NotFound

        from pipelines.cloud.google_api import google_errors

        if not JOB_ID.fullmatch(run_id):
            return None  # not a job id this runner makes: Vertex AI has none either
        with google_errors(f"reading pipeline job {run_id}"):
            try:
                return self._view(self._client().get_pipeline_job(
                    name=f"{self._parent}/pipelineJobs/{run_id}"))
            except NotFound:
                return None

    def list(self, model: str | None = None, limit: int = 50) -> list[RunView]:
        """The newest runs (of ``model``), newest first."""
        from pipelines.cloud.google_api import google_errors

        wanted = f'labels.app="fullcycle" AND labels.stack="{self.stack}"'
        if model:
            wanted += f' AND labels.model="{slug(model)}"'
        with google_errors("listing pipeline jobs"):
            pager = self._client().list_pipeline_jobs(request={
                "parent": self._parent, "filter": wanted, "order_by": "create_time desc",
                "page_size": min(limit, 100)})
            return [self._view(job) for job in itertools.islice(pager, limit)]

    def submit(self, model: str, run_id: str, trigger: str,
               tuning: bool = False) -> tuple[RunView, bool]:
        """Creates PipelineJob ``run_id``, or answers the one of that id (created: False).

        A run imports the model's data baseline and last tuning result from its bucket;
        ``tuning``: the tuning pipeline instead, recording a new tuning result there.
        """
        from google.api_core.exceptions import Conflict
        from google.cloud import aiplatform

        from pipelines.cloud.compile import (
            compile_pipeline,
            read_cloud_baseline,
            read_cloud_hyperparameters,
        )
        from pipelines.cloud.target import CloudTarget
        from pipelines.config.registry import load_config
        from pipelines.pipeline.factory import pipeline_name, tuning_pipeline_name

        existing = self.get(run_id)
        if existing is not None:  # a retry: Vertex AI has the run, nothing to compile
            return existing, False
        target = CloudTarget.from_stack(model, self.stack)
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "pipeline.json"
            inputs = {"tuning": True} if tuning else {
                "baseline": read_cloud_baseline(target, self.credentials),
                "hyperparameters": read_cloud_hyperparameters(target, self.credentials)}
            compile_pipeline(load_config(model), target, spec, **inputs)
            name = tuning_pipeline_name(model) if tuning else pipeline_name(model)
            job = aiplatform.PipelineJob(
                display_name=name, template_path=str(spec), job_id=run_id,
                pipeline_root=target.pipeline_root, enable_caching=False,
                labels={**target.labels, "trigger": trigger},
                project=target.project, location=target.region, credentials=self.credentials)
            try:
                job.submit(service_account=target.service_account,
                           create_request_timeout=CREATE_TIMEOUT_SECONDS)
            except Conflict:  # ALREADY_EXISTS: another instance or attempt created it
                existing = self.get(run_id)
                if existing is None:
                    raise
                return existing, False
        return self._view(job.gca_resource), True

    def _scoring(self):
        from pipelines.runner.vertex_scores import VertexScores

        if self._scores is None:
            self._scores = VertexScores(self.stack, self.credentials)
        return self._scores

    def submit_score(self, model: str, score_id: str, trigger: str,
                     requested: dt.datetime) -> tuple[RunView, bool]:
        """Creates the BatchPredictionJob of ``score_id`` (``vertex_scores.py``)."""
        return self._scoring().submit(model, score_id, trigger, requested)

    def get_score(self, score_id: str) -> RunView | None:
        return self._scoring().get(score_id)
