"""A fake of Vertex AI's batch prediction jobs behind the real client's HTTP transport.

It answers ``batchPredictionJobs`` create, list (display name and label filters), get
and cancel, and refuses a job as Vertex AI would: a model without a version, BigQuery URIs
that are not ``bq://project.dataset.table``, an output table that exists, included
and excluded fields together, fields for non-object instances, a bad service
account, replica counts out of order, label keys or values GCP refuses.
"""

import json
import re
from urllib.parse import parse_qs, unquote, urlparse

from tests.support.google_http import json_response

LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
TABLE_URI = re.compile(r"^bq://[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\."
                       r"[A-Za-z0-9_]{1,1024}$")


class FakeBatchPrediction:
    """Vertex AI's JobService for batch prediction jobs in one project and region."""

    def __init__(self, project: str, region: str, tables: set[str] | None = None):
        self.parent = f"projects/{project}/locations/{region}"
        self.host = f"{region}-aiplatform.googleapis.com"
        self.jobs: dict[str, dict] = {}
        self.tables = tables or set()  # existing BigQuery tables, as bq:// URIs
        self.created: list[dict] = []  # every request body accepted, in order
        self.cancelled: list[str] = []  # names of the jobs cancelled, in order
        self.before_create = None  # a hook run before a create is answered (a racing instance)

    def _invalid(self, request, message: str):
        return json_response(request, 400, {"error": {"code": 400, "message": message,
                                                      "status": "INVALID_ARGUMENT"}})

    def problem(self, job: dict) -> str | None:
        """What Vertex AI would refuse in ``job``, or None."""
        if not re.fullmatch(rf"{self.parent}/models/\d+@\d+", job.get("model", "")):
            return f"model {job.get('model')!r} must name a model version"
        source = job["inputConfig"]["bigquerySource"]["inputUri"]
        target = job["outputConfig"]["bigqueryDestination"]["outputUri"]
        for uri in (source, target):
            if not TABLE_URI.match(uri):
                return f"{uri!r} is not a BigQuery table URI"
        if target in self.tables:
            return f"output table {target} already exists"
        instance = job.get("instanceConfig", {})
        if instance.get("includedFields") and instance.get("excludedFields"):
            return "included_fields and excluded_fields are mutually exclusive"
        if instance.get("excludedFields") and instance.get("instanceType") != "object":
            return "excluded_fields need instance_type object"
        if not re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9-]+\.iam\.gserviceaccount\.com",
                            job.get("serviceAccount", "")):
            return f"service account {job.get('serviceAccount')!r} is not valid"
        resources = job["dedicatedResources"]
        if not 1 <= int(resources["startingReplicaCount"]) <= int(resources["maxReplicaCount"]):
            return "starting_replica_count must be between 1 and max_replica_count"
        for key, value in job.get("labels", {}).items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
                return f"label {key}={value} is not valid"
        return None

    def _matches(self, job: dict, wanted: str) -> bool:
        for field, value in re.findall(r'([\w.-]+)="((?:[^"\\]|\\.)*)"', wanted):
            have = job["displayName"] if field == "display_name" else \
                job.get("labels", {}).get(field.removeprefix("labels."))
            if have != value.replace('\\"', '"'):
                return False
        return True

    def send(self, request):
        url = urlparse(request.url)
        assert url.netloc == self.host, request.url
        path = unquote(url.path).removeprefix("/v1/")
        if request.method == "POST" and path == f"{self.parent}/batchPredictionJobs":
            job = json.loads(request.body)
            if self.before_create is not None:
                hook, self.before_create = self.before_create, None
                hook(job)
            problem = self.problem(job)
            if problem:
                return self._invalid(request, problem)
            name = f"{self.parent}/batchPredictionJobs/{len(self.jobs) + 1}"
            self.created.append(job)
            self.tables.add(job["outputConfig"]["bigqueryDestination"]["outputUri"])
            self.jobs[name] = {**job, "name": name, "state": "JOB_STATE_PENDING",
                               "createTime": f"2026-12-06T10:{len(self.jobs):02d}:00Z"}
            return json_response(request, 200, self.jobs[name])
        if request.method == "GET" and path == f"{self.parent}/batchPredictionJobs":
            wanted = parse_qs(url.query).get("filter", [""])[0]
            found = [job for job in self.jobs.values() if self._matches(job, wanted)]
            return json_response(request, 200, {"batchPredictionJobs": found})
        if request.method == "POST" and path.endswith(":cancel") and \
                path.removesuffix(":cancel") in self.jobs:
            self.jobs[path.removesuffix(":cancel")]["state"] = "JOB_STATE_CANCELLING"
            self.cancelled.append(path.removesuffix(":cancel"))
            return json_response(request, 200, {})
        if request.method == "GET" and path in self.jobs:
            return json_response(request, 200, self.jobs[path])
        raise AssertionError(f"unexpected call {request.method} {request.url}")


class FakeScoringCloud:
    """Vertex AI (registry, endpoint, batch prediction jobs), BigQuery and GCS together:
    what the cloud runner's ``POST /scores`` calls. Batch prediction requests go to
    ``batch``, every other request to ``cloud`` (a ``FakeGoogleCloud``)."""

    def __init__(self, cloud, batch: FakeBatchPrediction):
        self.cloud, self.batch = cloud, batch

    def send(self, request):
        if "/batchPredictionJobs" in urlparse(request.url).path:
            return self.batch.send(request)
        return self.cloud.send(request)
