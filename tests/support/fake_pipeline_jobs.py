"""Vertex AI PipelineJobs for :class:`~tests.support.google_fakes.FakeRegistry`.

Create (with ``pipelineJobId``: a duplicate gets 409 ALREADY_EXISTS, as Vertex AI
answers), get, and list with a filter and an order, each checked as the service
checks them; the test moves a job's state with :meth:`PipelineJobs.move` (what
the pipeline's run would do), including the Pusher task's ``pushed_model`` output.
"""

import json
import re
import time

from tests.support.google_http import json_response

JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
CLAUSE = re.compile(r'^\s*(display_name|labels\.[a-z][a-z0-9_-]*|state)\s*=\s*"([^"]*)"\s*$')
ORDERS = {"create_time", "create_time desc", "update_time", "update_time desc", "display_name",
          "display_name desc", "end_time", "end_time desc", "start_time", "start_time desc"}
STATES = ("PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING",
          "PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLING",
          "PIPELINE_STATE_CANCELLED", "PIPELINE_STATE_PAUSED")
FINAL = ("PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED")


def _error(request, status: int, reason: str, message: str):
    return json_response(request, status, {"error": {"code": status, "status": reason,
                                                     "message": message}})


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int(seconds % 1 * 1e6):06d}Z"


def _problem(body: dict) -> str | None:
    """What Vertex AI refuses in a CreatePipelineJob body; None if it accepts it."""
    if not body.get("displayName") or len(body["displayName"]) > 128:
        return "display_name must be 1-128 characters"
    if not body.get("serviceAccount", "").endswith(".iam.gserviceaccount.com"):
        return f"service account {body.get('serviceAccount')!r} is not a service account email"
    labels = body.get("labels", {})
    if len(labels) > 64:
        return "at most 64 labels"
    for key, value in labels.items():
        if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            return f"label {key}={value!r} is not valid"
    spec = body.get("pipelineSpec", {})
    if not spec.get("root", {}).get("dag", {}).get("tasks") or \
            not spec.get("deploymentSpec", {}).get("executors"):
        return "pipeline_spec has no tasks or executors"
    if not body.get("runtimeConfig", {}).get("gcsOutputDirectory", "").startswith("gs://"):
        return "runtime_config.gcs_output_directory must be a gs:// URI"
    return None


class PipelineJobs:
    """The ``pipelineJobs`` collection of the registry's project and location."""

    @staticmethod
    def send(registry, request, path: str, body, query: dict):
        parent = registry.endpoint["name"].rsplit("/endpoints/", 1)[0]
        jobs = registry.pipeline_jobs
        if request.method == "POST" and path == "pipelineJobs":
            job_id = query.get("pipelineJobId", [""])[0]
            if not JOB_ID.match(job_id):
                return _error(request, 400, "INVALID_ARGUMENT",
                              f"pipeline_job_id {job_id!r} must match {JOB_ID.pattern}")
            if job_id in jobs:
                return _error(request, 409, "ALREADY_EXISTS",
                              f"PipelineJob {parent}/pipelineJobs/{job_id} already exists")
            if (problem := _problem(body)) is not None:
                return _error(request, 400, "INVALID_ARGUMENT", problem)
            now = _stamp(time.time())
            jobs[job_id] = {**body, "name": f"{parent}/pipelineJobs/{job_id}",
                            "state": "PIPELINE_STATE_PENDING", "createTime": now,
                            "updateTime": now}
            return json_response(request, 200, jobs[job_id])
        if request.method == "GET" and path == "pipelineJobs":
            return PipelineJobs._list(request, jobs, query)
        m = re.fullmatch(r"pipelineJobs/([^/:]+)", path)
        if request.method == "GET" and m:
            if m.group(1) not in jobs:
                return _error(request, 404, "NOT_FOUND",
                              f"PipelineJob {parent}/pipelineJobs/{m.group(1)} does not exist")
            return json_response(request, 200, jobs[m.group(1)])
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    @staticmethod
    def _list(request, jobs: dict, query: dict):
        found = list(jobs.values())
        text = query.get("filter", [""])[0]
        for clause in filter(None, text.split(" AND ")):
            m = CLAUSE.match(clause)
            if m is None:
                return _error(request, 400, "INVALID_ARGUMENT", f"invalid filter {clause!r}")
            field, value = m.groups()
            if field == "display_name":
                found = [j for j in found if j["displayName"] == value]
            elif field == "state":
                found = [j for j in found if j["state"] == value]
            else:
                found = [j for j in found if j.get("labels", {}).get(field[7:]) == value]
        order = query.get("orderBy", ["create_time"])[0]
        if order not in ORDERS:
            return _error(request, 400, "INVALID_ARGUMENT", f"invalid order_by {order!r}")
        key = {"create": "createTime", "update": "updateTime", "display": "displayName",
               "end": "endTime", "start": "startTime"}[order.split("_")[0]]
        found.sort(key=lambda j: j.get(key, ""), reverse=order.endswith(" desc"))
        size = min(int(query.get("pageSize", ["100"])[0]) or 100, 100)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        page = {"pipelineJobs": found[start:start + size]}
        if start + size < len(found):
            page["nextPageToken"] = str(start + size)
        return json_response(request, 200, page)

    @staticmethod
    def move(registry, job_id: str, state: str, pushed_version: str | None = None,
             note: str | None = None, error: str | None = None) -> dict:
        """Sets ``state`` (a PipelineState name); a finished job gets its end time, a
        failed one ``error``, and a Pusher output when ``pushed_version`` or ``note``."""
        assert state in STATES, state
        job = registry.pipeline_jobs[job_id]
        now = _stamp(time.time())
        job["state"], job["updateTime"] = state, now
        if state != "PIPELINE_STATE_QUEUED" and state != "PIPELINE_STATE_PENDING":
            job.setdefault("startTime", now)
        if state in FINAL:
            job["endTime"] = now
        if error is not None:
            job["error"] = {"code": 9, "message": error}
        if pushed_version is not None or note is not None:
            metadata = {"pushed": 1 if pushed_version else 0,
                        "deployment": json.dumps({"note": note})}
            if pushed_version:
                metadata["pushed_version"] = pushed_version
            job["jobDetail"] = {"taskDetails": [{
                "taskId": "7", "taskName": "Pusher", "state": "SUCCEEDED",
                "outputs": {"pushed_model": {"artifacts": [{
                    "name": f"{job['name']}/artifacts/pushed", "schemaTitle": "tfx.PushedModel",
                    "metadata": metadata}]}}}]}
        return job
