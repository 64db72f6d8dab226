"""The rehearsal's recorded Google API requests, named as IAM permissions and checked
against the permission table (``tests/infra/permissions.py``).

``calls.jsonl`` (``tests/rehearsal/gateway.py``) holds each request as the emulators saw
it: the identity (a service account's email), the service, the HTTP method and the
resource path (and, for an upload, the object it creates). :func:`permissions_of` names the permissions Google checks for such a
request (from each API's reference: Cloud Storage JSON API, BigQuery v2, Vertex AI v1,
Resource Manager v3); :func:`unlisted` returns the requests the table does not grant to
that identity at that scope. A request no rule knows is reported as such, so a new kind
of call cannot slip past the table unnamed.

Two rules worth knowing: a BigQuery job's creator reads it back (``jobs.get``,
``getQueryResults``) with ``bigquery.jobs.create`` alone; a Cloud Storage copy or rewrite
needs ``get`` on the source object and ``create`` on the destination.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.infra.permissions import CALLS


@dataclass(frozen=True)
class Need:
    """One permission a recorded request needs, at the table's scope, for an object path."""

    permission: str
    scope: str  # project | bucket | dataset
    obj: str = ""  # the object name, for bucket scope (matched against bucket:<prefix>)


_OBJECT = r"/(?:download/|upload/)?storage/v1/b/[^/]+/o/(?P<obj>.+)"
_STORAGE = [
    ("GET", re.compile(r"/storage/v1/b/[^/]+"), "storage.buckets.get"),
    ("GET", re.compile(r"/storage/v1/b/[^/]+/o"), "storage.objects.list"),
    ("POST", re.compile(r"/upload/storage/v1/b/[^/]+/o"), "storage.objects.create"),
    ("GET", re.compile(_OBJECT), "storage.objects.get"),
    ("DELETE", re.compile(_OBJECT), "storage.objects.delete"),
    ("PATCH", re.compile(_OBJECT), "storage.objects.update"),
    # TensorFlow's GCS filesystem reads objects at storage.googleapis.com/<bucket>/<object>
    ("GET", re.compile(r"/(?!storage/|upload/|download/|batch/)[^/]+/(?P<obj>.+)"),
     "storage.objects.get"),
]
_COPY = re.compile(r"/storage/v1/b/[^/]+/o/(?P<src>.+)/(?:rewriteTo|copyTo)/b/[^/]+/o/(?P<dst>.+)")
_BQ = "/bigquery/v2/projects/[^/]+"
_BIGQUERY = [
    ("POST", re.compile(f"{_BQ}/jobs"), "bigquery.jobs.create", "project"),
    ("GET", re.compile(f"{_BQ}/(?:jobs|queries)/[^/]+"), "bigquery.jobs.create", "project"),
    ("GET", re.compile(f"{_BQ}/datasets/[^/]+"), "bigquery.datasets.get", "dataset"),
    ("POST", re.compile(f"{_BQ}/datasets/[^/]+/tables"), "bigquery.tables.create", "dataset"),
    ("GET", re.compile(f"{_BQ}/datasets/[^/]+/tables/[^/]+"), "bigquery.tables.get", "dataset"),
    ("PATCH", re.compile(f"{_BQ}/datasets/[^/]+/tables/[^/]+"), "bigquery.tables.update",
     "dataset"),
    ("DELETE", re.compile(f"{_BQ}/datasets/[^/]+/tables/[^/]+"), "bigquery.tables.delete",
     "dataset"),
    ("GET", re.compile(f"{_BQ}/datasets/[^/]+/tables/[^/]+/data"), "bigquery.tables.getData",
     "dataset"),
    ("POST", re.compile(f"{_BQ}/datasets/[^/]+/tables/[^/]+/insertAll"),
     "bigquery.tables.updateData", "dataset"),
]
_LOCATION = "/v1/projects/[^/]+/locations/[^/]+"
_COLLECTIONS = ("endpoints", "models", "pipelineJobs", "batchPredictionJobs",
                "modelDeploymentMonitoringJobs")
_VERBS = {"deployModel": "deploy", "undeployModel": "undeploy", "upload": "upload",
          "cancel": "cancel", "mutateDeployedModel": "update"}
_VERTEX = re.compile(f"{_LOCATION}/(?P<collection>[A-Za-z]+)(?P<id>/[^/:]+)?"
                     r"(?::(?P<verb>[A-Za-z]+))?")


def _vertex(method: str, path: str) -> str | None:
    match = _VERTEX.fullmatch(path)
    if match is None or match["collection"] not in _COLLECTIONS:
        return None
    kind = f"aiplatform.{match['collection']}"
    if match["verb"]:
        return f"{kind}.{_VERBS[match['verb']]}" if match["verb"] in _VERBS else None
    if match["id"] is None:
        return {"GET": f"{kind}.list", "POST": f"{kind}.create"}.get(method)
    return {"GET": f"{kind}.get", "PATCH": f"{kind}.update",
            "DELETE": f"{kind}.delete"}.get(method)


def permissions_of(call: dict) -> list[Need] | None:
    """The permissions one recorded request needs; None when no rule knows the request."""
    method, path = call["method"], call["resource"]
    if call["service"] == "storage":
        copy = _COPY.fullmatch(path)
        if method == "POST" and copy:
            return [Need("storage.objects.get", "bucket", copy["src"]),
                    Need("storage.objects.create", "bucket", copy["dst"])]
        for verb, pattern, permission in _STORAGE:
            match = pattern.fullmatch(path)
            if verb == method and match:
                obj = match.groupdict().get("obj") or call.get("object", "")
                return [Need(permission, "bucket", obj)]
        return None
    if call["service"] == "bigquery":
        for verb, pattern, permission, scope in _BIGQUERY:
            if verb == method and pattern.fullmatch(path):
                return [Need(permission, scope)]
        return None
    if call["service"] == "aiplatform":
        permission = _vertex(method, path)
        return None if permission is None else [Need(permission, "project")]
    if call["service"] == "cloudresourcemanager" and method == "GET" \
            and re.fullmatch(r"/v[13]/projects/[^/]+", path):
        return [Need("resourcemanager.projects.get", "project")]
    return None


def identity_of(email: str) -> str:
    """``fc-runner@...`` -> runner; any other ``fc-<model>@...`` -> model."""
    name = email.split("@", 1)[0]
    return "runner" if name == "fc-runner" else "model"


def _listed(identity: str, need: Need) -> bool:
    for row in CALLS:
        if row.identity != identity or row.permission != need.permission:
            continue
        if row.scope in ("project", need.scope):
            return True
        if row.scope.startswith("bucket:") and need.scope == "bucket" \
                and need.obj.startswith(row.scope.removeprefix("bucket:")):
            return True
    return False


def unlisted(calls: list[dict]) -> list[str]:
    """One line per distinct recorded request the table does not grant (or cannot name)."""
    problems: dict[str, None] = {}
    for call in calls:
        identity = identity_of(call["identity"])
        needs = permissions_of(call)
        if needs is None:
            problems[f"{identity}: {call['service']} {call['method']} {call['resource']}: "
                     "no rule names this request's permission"] = None
            continue
        for need in needs:
            if not _listed(identity, need):
                where = f" on {need.obj}" if need.obj else ""
                problems[f"{identity} needs {need.permission} at {need.scope}{where} "
                         f"({call['method']} {call['resource']})"] = None
    return list(problems)
