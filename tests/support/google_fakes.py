"""Fake Google Cloud services behind the real Google clients' HTTP transport.

Each fake answers the REST calls its client makes and checks them as the service
would: Vertex AI (model registry, endpoint traffic), BigQuery (query jobs over
the endpoint's request-response log), Cloud Monitoring (``timeSeries.list``) and
Cloud Storage (objects with generation preconditions); Vertex AI's PipelineJobs are
in ``fake_pipeline_jobs.py``. ``FakeGoogleCloud`` routes each request by host.
"""

import datetime as dt
import email
import io
import json
import math
import re
from urllib.parse import parse_qs, unquote, urlparse

import requests
import urllib3
from google.cloud.aiplatform.constants import prediction

from tests.support.fake_pipeline_jobs import PipelineJobs
from tests.support.google_http import json_response, project_number

PROJECT, REGION = "fullcycle-dev", "europe-west4"
# Vertex AI's prebuilt prediction containers, as the SDK lists them.
PUBLISHED_PREDICTION_IMAGES = frozenset(prediction.SERVING_CONTAINER_URIS)
PARENT = f"projects/{PROJECT}/locations/{REGION}"


def _error(request, status: int, reason: str, message: str):
    return json_response(request, status, {"error": {"code": status, "status": reason,
                                                     "message": message}})


def _rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T")).timestamp()


class FakeRegistry:
    """Models with versions, one endpoint with deployed models and a traffic split."""

    def __init__(self, endpoint_display_name="fc-basic-template"):
        self.models: dict[str, dict] = {}  # id -> {"displayName", "versions": [...]}
        self.endpoint = {"name": f"{PARENT}/endpoints/7001", "displayName": endpoint_display_name,
                         "deployedModels": [], "trafficSplit": {}}
        self.calls: list[tuple[str, str, dict | None]] = []
        self.splits: list[dict[str, int]] = []  # every split set by PATCH, in order
        self.undeployed: list[str] = []
        self.monitoring_jobs: dict[str, dict] = {}  # id -> job, as Vertex AI stores it
        self._ids = iter(range(100, 1000))
        self.pipeline_jobs: dict[str, dict] = {}  # job id -> PipelineJob, as Vertex stores it

    def _model_json(self, model_id: str, version: str | None = None) -> dict:
        model = self.models[model_id]
        version = version or model["default"]
        return {"name": f"{PARENT}/models/{model_id}", "displayName": model["displayName"],
                "versionId": version, "versionAliases": model["aliases"][version],
                "artifactUri": model["artifacts"][version], "labels": model["labels"],
                # what Vertex reports for a model with a serving container
                "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"]}

    def _done(self, request, kind: str, response: dict):
        return json_response(request, 200, {
            "name": f"{PARENT}/operations/{next(self._ids)}", "done": True,
            "response": {"@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{kind}",
                         **response}})

    def send(self, request):
        url = urlparse(request.url)
        assert url.netloc == f"{REGION}-aiplatform.googleapis.com", request.url
        path = url.path.removeprefix(f"/v1/{PARENT}/")
        body = json.loads(request.body) if request.body else None
        self.calls.append((request.method, path, body))
        query = parse_qs(url.query)
        if request.method == "GET" and path == "endpoints":
            wanted = re.fullmatch(r'display_name="(.*)"', query["filter"][0]).group(1)
            found = [self.endpoint] if wanted == self.endpoint["displayName"] else []
            return json_response(request, 200, {"endpoints": found})
        if request.method == "GET" and path == "endpoints/7001":
            return json_response(request, 200, self.endpoint)
        if request.method == "GET" and path == "models":
            wanted = re.fullmatch(r'display_name="(.*)"', query["filter"][0]).group(1)
            return json_response(request, 200, {"models": [
                self._model_json(i) for i, m in self.models.items()
                if m["displayName"] == wanted]})
        if request.method == "GET" and (m := re.fullmatch(r"models/(\d+)(?:@(\w+))?", path)):
            return json_response(request, 200, self._model_json(m.group(1), m.group(2)))
        if request.method == "POST" and path == "models:upload":
            return self._upload(request, body)
        if request.method == "POST" and path == "endpoints/7001:deployModel":
            return self._deploy(request, body)
        if request.method == "PATCH" and path == "endpoints/7001":
            return self._update(request, body, query)
        if request.method == "POST" and path == "endpoints/7001:undeployModel":
            return self._undeploy(request, body)
        if path.startswith("modelDeploymentMonitoringJobs"):
            return self._monitoring(request, path, body, query)
        if path.startswith("pipelineJobs"):
            return PipelineJobs.send(self, request, path, body, query)
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    def move_pipeline_job(self, job_id: str, state: str, **outcome) -> dict:
        """Moves a PipelineJob as Vertex AI would (see ``PipelineJobs.move``)."""
        return PipelineJobs.move(self, job_id, state, **outcome)

    # -- Model Monitoring ---------------------------------------------------------------
    def _invalid(self, request, message: str):
        return _error(request, 400, "INVALID_ARGUMENT", message)

    def _check_job(self, job: dict) -> str | None:
        """What Vertex AI checks of a ModelDeploymentMonitoringJob; the problem or None."""
        if job.get("endpoint") != self.endpoint["name"]:
            return f"endpoint {job.get('endpoint')!r} does not exist"
        configs = job.get("modelDeploymentMonitoringObjectiveConfigs") or []
        if not configs:
            return "model_deployment_monitoring_objective_configs is required"
        deployed = {d["id"] for d in self.endpoint["deployedModels"]}
        for config in configs:
            if config.get("deployedModelId") not in deployed:
                return f"deployed model {config.get('deployedModelId')} is not on the endpoint"
            objective = config["objectiveConfig"]
            source = objective["trainingDataset"]["bigquerySource"]["inputUri"]
            if not re.fullmatch(r"bq://[a-z][a-z0-9-]+\.\w+\.\w+", source):
                return f"training dataset {source!r} is not a BigQuery table uri"
            for kind, key in (("trainingPredictionSkewDetectionConfig", "skewThresholds"),
                              ("predictionDriftDetectionConfig", "driftThresholds")):
                for feature, threshold in objective[kind][key].items():
                    if not 0 < threshold["value"] <= 1:
                        return f"{key}[{feature}] {threshold['value']} is outside (0, 1]"
        rate = job["loggingSamplingStrategy"]["randomSampleConfig"]["sampleRate"]
        if not 0 < rate <= 1:
            return f"sample rate {rate} is outside (0, 1]"
        interval = job["modelDeploymentMonitoringScheduleConfig"]["monitorInterval"]
        if float(interval.rstrip("s")) < 3600:
            return f"monitor interval {interval} is shorter than one hour"
        alerts = job.get("modelMonitoringAlertConfig", {})
        for address in alerts.get("emailAlertConfig", {}).get("userEmails", []):
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", address):
                return f"alert email {address!r} is not valid"
        for channel in alerts.get("notificationChannels", []):
            if not re.fullmatch(rf"projects/{PROJECT}/notificationChannels/\d+", channel):
                return f"notification channel {channel!r} is not in project {PROJECT}"
        return None

    def _monitoring(self, request, path: str, body, query):
        if request.method == "POST" and path == "modelDeploymentMonitoringJobs":
            if (problem := self._check_job(body)) is not None:
                return self._invalid(request, problem)
            job_id = str(next(self._ids))
            job = {**body, "name": f"{PARENT}/modelDeploymentMonitoringJobs/{job_id}",
                   "state": "JOB_STATE_RUNNING"}
            self.monitoring_jobs[job_id] = job
            return json_response(request, 200, job)
        if request.method == "GET" and path == "modelDeploymentMonitoringJobs":
            found = list(self.monitoring_jobs.values())
            if "filter" in query:
                wanted = re.fullmatch(r'display_name="(.*)"', query["filter"][0]).group(1)
                found = [j for j in found if j["displayName"] == wanted]
            return json_response(request, 200, {"modelDeploymentMonitoringJobs": found})
        m = re.fullmatch(r"modelDeploymentMonitoringJobs/(\d+)(:pause)?", path)
        if m is None or m.group(1) not in self.monitoring_jobs:
            return _error(request, 404, "NOT_FOUND", f"{path} does not exist")
        job = self.monitoring_jobs[m.group(1)]
        if request.method == "GET":
            return json_response(request, 200, job)
        if request.method == "POST" and m.group(2):
            job["state"] = "JOB_STATE_PAUSED"
            return json_response(request, 200, {})
        if request.method == "PATCH":
            mask = query.get("updateMask", [""])[0].split(",")
            updated = {**job, **{k: v for k, v in body.items() if k != "name"}}
            if (problem := self._check_job(updated)) is not None:
                return self._invalid(request, problem)
            job.update(updated)
            job["updateMask"] = mask
            # The operation is answered done without its ``response``: the REST transport
            # parses an ``Any`` of a Vertex message type by making a second class of it in
            # protobuf's pool, after which proto-plus can no longer build a threshold map in
            # the process (a client quirk of REST only; the runner uses gRPC). The caller
            # reads the job back.
            return json_response(request, 200, {
                "name": f"{PARENT}/operations/{next(self._ids)}", "done": True})
        if request.method == "DELETE":
            assert job["state"] != "JOB_STATE_RUNNING", "a running job must be paused first"
            del self.monitoring_jobs[m.group(1)]
            return json_response(request, 200, {
                "name": f"{PARENT}/operations/{next(self._ids)}", "done": True,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}})
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    def _check_split(self, split: dict, known: set[str]) -> None:
        assert set(split) <= known, f"split {split} names undeployed models (deployed: {known})"
        assert all(isinstance(v, int) and 0 <= v <= 100 for v in split.values()), split
        assert sum(split.values()) == (100 if known else 0), split

    def _update(self, request, body, query):
        mask = query.get("updateMask", [""])[0].split(",")
        assert mask in (["traffic_split"], ["trafficSplit"]), f"only the split may change: {mask}"
        split = body.get("trafficSplit", {})
        self._check_split(split, {d["id"] for d in self.endpoint["deployedModels"]})
        self.endpoint["trafficSplit"] = {k: v for k, v in split.items() if v}
        self.splits.append(dict(self.endpoint["trafficSplit"]))
        return json_response(request, 200, self.endpoint)

    def _undeploy(self, request, body):
        deployed_id = body["deployedModelId"]
        known = {d["id"] for d in self.endpoint["deployedModels"]}
        if deployed_id not in known:
            return json_response(request, 404, {"error": {
                "code": 404, "status": "NOT_FOUND",
                "message": f"DeployedModel {deployed_id} does not exist"}})
        split = body.get("trafficSplit", dict(self.endpoint["trafficSplit"]))
        assert not split.get(deployed_id), f"{deployed_id} still takes traffic: {split}"
        self._check_split({k: v for k, v in split.items() if k != deployed_id},
                          known - {deployed_id})
        self.endpoint["deployedModels"] = [d for d in self.endpoint["deployedModels"]
                                           if d["id"] != deployed_id]
        self.endpoint["trafficSplit"] = {k: v for k, v in split.items() if v}
        self.undeployed.append(deployed_id)
        return self._done(request, "UndeployModelResponse", {})

    def _upload(self, request, body):
        model = body["model"]
        assert model["artifactUri"].startswith("gs://"), model
        image = model["containerSpec"]["imageUri"]
        if image not in PUBLISHED_PREDICTION_IMAGES:  # Vertex cannot deploy a missing image
            return self._invalid(request, f"serving container {image} does not exist")
        assert model["displayName"] and model["labels"]["app"] == "fullcycle"
        if "parentModel" in body:
            model_id = body["parentModel"].rsplit("/", 1)[1]
            assert model_id in self.models, f"parent {body['parentModel']} does not exist"
            entry = self.models[model_id]
            version = str(len(entry["aliases"]) + 1)
            assert not set(model.get("versionAliases", [])) & {
                a for aliases in entry["aliases"].values() for a in aliases}, "alias taken"
        else:
            model_id, version = str(next(self._ids)), "1"
            entry = self.models[model_id] = {"displayName": model["displayName"], "aliases": {},
                                             "artifacts": {}, "default": "1",
                                             "labels": model["labels"]}
        entry["aliases"][version] = model.get("versionAliases", [])
        entry["artifacts"][version] = model["artifactUri"]
        return self._done(request, "UploadModelResponse", {
            "model": f"{PARENT}/models/{model_id}", "modelVersionId": version})

    def _deploy(self, request, body):
        deployed, split = body["deployedModel"], body["trafficSplit"]
        model_id, version = re.fullmatch(rf"{PARENT}/models/(\d+)(?:@(\w+))?",
                                         deployed["model"]).groups()
        assert model_id in self.models and (version is None or version in
                                            self.models[model_id]["aliases"]), deployed["model"]
        resources = deployed["dedicatedResources"]
        assert resources["machineSpec"]["machineType"] and resources["minReplicaCount"] >= 1
        known = {d["id"] for d in self.endpoint["deployedModels"]}
        assert set(split) <= known | {"0"}, split
        assert all(isinstance(v, int) and 0 <= v <= 100 for v in split.values())
        assert sum(split.values()) == 100, split
        new_id = str(next(self._ids))
        deployed_so_far = len(self.endpoint["deployedModels"]) + len(self.undeployed)
        created = f"2026-11-29T10:{deployed_so_far:02d}:00Z"
        self.endpoint["deployedModels"].append({**deployed, "id": new_id, "createTime": created})
        self.endpoint["trafficSplit"] = {new_id if k == "0" else k: v
                                         for k, v in split.items() if v}
        return self._done(request, "DeployModelResponse", {"deployedModel": {
            **deployed, "id": new_id}})


class FakeBigQuery:
    """Query jobs over request-response log tables, as Vertex AI writes them.

    Checks what BigQuery checks: standard SQL, the table exists, every
    ``@parameter`` is declared with a valid type and value. It runs the one query
    shape the canary sends (one deployed model, a ``logging_time`` window),
    asserting the SQL says exactly that.
    """

    WINDOW = re.compile(r"SELECT response_payload FROM `([\w.-]+)`\s+"
                        r"WHERE deployed_model_id = @deployed_model_id\s+"
                        r"AND logging_time >= @since AND logging_time < @until$")

    def __init__(self):
        self.tables: dict[str, list[dict]] = {}  # project.dataset.table -> rows
        self.jobs: dict[str, dict] = {}
        self.queries: list[str] = []
        self.created_tables: dict[str, str] = {}  # project.dataset.table -> its CREATE

    def log(self, table: str, deployed_model_id: str, at: float, predictions: list) -> None:
        """One logged request: ``predictions`` as Vertex AI writes them (JSON per instance)."""
        self.tables.setdefault(table, []).append({
            "deployed_model_id": deployed_model_id, "logging_time": at,
            "response_payload": [p if isinstance(p, str) else json.dumps(p)
                                 for p in predictions]})

    def send(self, request):
        url = urlparse(request.url)
        m = re.fullmatch(r"/bigquery/v2/projects/([^/]+)/(jobs|queries)(?:/([^/]+))?", url.path)
        assert m, request.url
        project, kind, job_id = m.groups()
        if request.method == "POST" and kind == "jobs" and job_id is None:
            return self._insert(request, project, json.loads(request.body))
        if request.method == "GET" and job_id in self.jobs:
            job = self.jobs[job_id]
            if kind == "jobs":
                return json_response(request, 200, job["resource"])
            return json_response(request, 200, {
                "kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                "jobReference": job["resource"]["jobReference"],
                "schema": {"fields": [{"name": "response_payload", "type": "STRING",
                                       "mode": "REPEATED"}]},
                "rows": [{"f": [{"v": [{"v": p} for p in row["response_payload"]]}]}
                         for row in job["rows"]],
                "totalRows": str(len(job["rows"]))})
        if request.method == "GET":
            return _error(request, 404, "notFound", f"Not found: Job {project}:{job_id}")
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    def _insert(self, request, project, body):
        query = body["configuration"]["query"]
        sql = query["query"].strip()
        self.queries.append(sql)
        if query.get("useLegacySql", True):
            return _error(request, 400, "invalidQuery", "query parameters need standard SQL")
        declared = {p["name"]: p for p in query.get("queryParameters", [])}
        for name in re.findall(r"@(\w+)", sql):
            if name not in declared:
                return _error(request, 400, "invalidQuery",
                              f"Query parameter '{name}' not found at [1:1]")
        values = {}
        for name, p in declared.items():
            kind, value = p["parameterType"]["type"], p["parameterValue"]["value"]
            if kind == "TIMESTAMP":
                try:
                    value = _seconds(value)
                except ValueError:
                    return _error(request, 400, "invalid", f"Invalid TIMESTAMP {value!r}")
            elif kind != "STRING":
                return _error(request, 400, "invalid", f"parameter {name}: type {kind}")
            values[name] = value
        created = re.match(r"CREATE OR REPLACE TABLE `([\w.-]+)`", sql)
        if created:  # a score's rows: recorded, not run
            self.created_tables[created.group(1)] = sql
            return json_response(request, 200, self._done(project, body, []))
        m = self.WINDOW.match(sql)
        assert m, f"the fake runs the canary's window query only, got:\n{sql}"
        table = m.group(1)
        if table not in self.tables:
            return _error(request, 404, "notFound", f"Not found: Table {table} was not found "
                          "in location EU")
        rows = [r for r in self.tables[table]
                if r["deployed_model_id"] == values["deployed_model_id"]
                and values["since"] <= r["logging_time"] < values["until"]]
        return json_response(request, 200, self._done(project, body, rows))

    def _done(self, project: str, body: dict, rows: list[dict]) -> dict:
        job_id = body["jobReference"]["jobId"]
        resource = {"kind": "bigquery#job", "id": f"{project}:{job_id}",
                    "jobReference": {"projectId": project, "jobId": job_id},
                    "configuration": body["configuration"], "status": {"state": "DONE"},
                    "statistics": {"creationTime": "1", "startTime": "1", "endTime": "2"}}
        self.jobs[job_id] = {"resource": resource, "rows": rows}
        return resource


class FakeMonitoring:
    """``projects.timeSeries.list`` over recorded Vertex AI prediction metrics.

    Checks what Monitoring checks: a known metric and resource type, an aligner
    valid for the metric's value type, an alignment period of at least 60 s, an
    interval that ends after it starts.
    """

    KINDS = {"aiplatform.googleapis.com/prediction/online/prediction_latencies":
             ("DELTA", "DISTRIBUTION"),
             "aiplatform.googleapis.com/prediction/online/error_count": ("DELTA", "INT64")}
    ALIGNERS = {"DISTRIBUTION": {"ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_50", "ALIGN_SUM",
                                 "ALIGN_DELTA"},
                "INT64": {"ALIGN_SUM", "ALIGN_DELTA", "ALIGN_RATE"}}
    CLAUSE = re.compile(r'([\w.]+) = "([^"]*)"')

    def __init__(self, endpoint_id: str = "7001"):
        self.endpoint_id = endpoint_id
        self.samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.requests: list[dict] = []

    def record(self, metric: str, deployed_model_id: str, at: float, value: float) -> None:
        self.samples.setdefault((metric, deployed_model_id), []).append((at, value))

    def send(self, request):
        url = urlparse(request.url)
        assert request.method == "GET" and url.path == f"/v3/projects/{PROJECT}/timeSeries", \
            request.url
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(query)
        clauses = dict(self.CLAUSE.findall(query["filter"]))
        metric = clauses.get("metric.type")
        if metric not in self.KINDS:
            return _error(request, 400, "INVALID_ARGUMENT", f"Unknown metric type {metric!r}")
        if clauses.get("resource.type") != "aiplatform.googleapis.com/Endpoint":
            return _error(request, 400, "INVALID_ARGUMENT", "resource.type does not match")
        value_type = self.KINDS[metric][1]
        aligner = query.get("aggregation.perSeriesAligner")
        if aligner not in self.ALIGNERS[value_type]:
            return _error(request, 400, "INVALID_ARGUMENT", f"The aligner {aligner} is not "
                          f"valid for metrics of type {value_type}")
        period = int(query["aggregation.alignmentPeriod"].rstrip("s"))
        if period < 60:
            return _error(request, 400, "INVALID_ARGUMENT",
                          "The alignment period must be at least 60 seconds")
        start, end = _seconds(query["interval.startTime"]), _seconds(query["interval.endTime"])
        if end <= start:
            return _error(request, 400, "INVALID_ARGUMENT", "endTime must follow startTime")
        if clauses.get("resource.labels.endpoint_id") != self.endpoint_id:
            return json_response(request, 200, {})
        values = [v for at, v in self.samples.get(
            (metric, clauses.get("metric.labels.deployed_model_id")), []) if start <= at < end]
        if not values:
            return json_response(request, 200, {})  # Monitoring omits series without points
        if aligner == "ALIGN_PERCENTILE_99":
            ordered = sorted(values)
            value = {"doubleValue": ordered[min(len(ordered) - 1,
                                                math.ceil(0.99 * len(ordered)) - 1)]}
        else:
            value = {"int64Value": str(int(sum(values)))}
        point = {"interval": {"startTime": _rfc3339(start), "endTime": _rfc3339(end)},
                 "value": value}
        return json_response(request, 200, {"timeSeries": [{
            "metric": {"type": metric, "labels": {
                "deployed_model_id": clauses["metric.labels.deployed_model_id"]}},
            "resource": {"type": "aiplatform.googleapis.com/Endpoint",
                         "labels": {"endpoint_id": self.endpoint_id}},
            "metricKind": "GAUGE", "valueType": "DOUBLE" if "doubleValue" in value else "INT64",
            "points": [point]}]})


class FakeGcs:
    """Objects with generations; ``ifGenerationMatch`` enforced (412), 0 meaning "absent".

    Every bucket belongs to ``project`` (its number as Resource Manager gives it).
    """

    def __init__(self, buckets: set[str], project: str = PROJECT):
        self.buckets = set(buckets)
        self.project_number = project_number(project)
        self.objects: dict[tuple[str, str], dict] = {}
        self._generation = 1_700_000_000_000_000

    def _resource(self, bucket: str, name: str) -> dict:
        obj = self.objects[bucket, name]
        return {"kind": "storage#object", "bucket": bucket, "name": name,
                "generation": str(obj["generation"]), "metageneration": "1",
                "size": str(len(obj["data"])), "contentType": obj["type"],
                "updated": _rfc3339(obj["updated"]), "timeCreated": _rfc3339(obj["updated"])}

    def _precondition(self, request, query, bucket, name):
        if "ifGenerationMatch" not in query:
            return None
        wanted = int(query["ifGenerationMatch"])
        current = self.objects.get((bucket, name), {}).get("generation", 0)
        if wanted != current:
            return _error(request, 412, "conditionNotMet",
                          "At least one of the pre-conditions you specified did not hold.")
        return None

    def _list(self, request, bucket: str, query: dict):
        """``objects.list`` by prefix, in name order, in one page."""
        if bucket not in self.buckets:
            return _error(request, 404, "notFound", "The specified bucket does not exist.")
        names = sorted(n for b, n in self.objects if b == bucket
                       and n.startswith(query.get("prefix", "")))
        return json_response(request, 200, {"kind": "storage#objects",
                                            "items": [self._resource(bucket, n) for n in names]})

    def _rewrite(self, request, bucket: str, name: str, to_bucket: str, to_name: str):
        """``objects.rewrite`` within the fake: done in one call."""
        import time

        if (bucket, name) not in self.objects or to_bucket not in self.buckets:
            return _error(request, 404, "notFound", f"No such object: {bucket}/{name}")
        source = self.objects[bucket, name]
        self.put(to_bucket, to_name, source["data"], time.time(), source["type"])
        size = str(len(source["data"]))
        return json_response(request, 200, {
            "kind": "storage#rewriteResponse", "done": True, "totalBytesRewritten": size,
            "objectSize": size, "resource": self._resource(to_bucket, to_name)})

    def put(self, bucket: str, name: str, data: bytes, updated: float,
            content_type: str = "application/json") -> None:
        self._generation += 1
        self.objects[bucket, name] = {"data": data, "generation": self._generation,
                                      "type": content_type, "updated": updated}

    def send(self, request):
        import time

        url = urlparse(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        rewrite = re.fullmatch(r"/storage/v1/b/([^/]+)/o/([^/]+)/rewriteTo/b/([^/]+)/o/([^/]+)",
                               url.path)
        if rewrite and request.method == "POST":
            return self._rewrite(request, *(unquote(part) for part in rewrite.groups()))
        listing = re.fullmatch(r"/storage/v1/b/([^/]+)/o", url.path)
        if listing and request.method == "GET":
            return self._list(request, listing.group(1), query)
        m = re.fullmatch(r"/(?:(upload|download)/)?storage/v1/b/([^/]+)(?:/o(?:/(.+))?)?",
                         url.path)
        assert m, request.url
        kind, bucket, name = m.group(1), m.group(2), unquote(m.group(3) or "") or None
        if bucket not in self.buckets:
            return _error(request, 404, "notFound", "The specified bucket does not exist.")
        if name is None and kind is None and request.method == "GET" and "/o" not in url.path:
            return json_response(request, 200, {"kind": "storage#bucket", "name": bucket,
                                                "projectNumber": self.project_number})
        if kind == "upload" and request.method == "POST":
            assert query.get("uploadType") == "multipart", request.url
            content_type = request.headers["content-type"]
            message = email.message_from_bytes(
                b"Content-Type: " + (content_type if isinstance(content_type, bytes)
                                     else content_type.encode()) + b"\r\n\r\n" + request.body)
            metadata_part, media_part = message.get_payload()
            name = json.loads(metadata_part.get_payload())["name"]
            if (problem := self._precondition(request, query, bucket, name)) is not None:
                return problem
            self.put(bucket, name, media_part.get_payload(decode=True), time.time(),
                     media_part.get_content_type())
            return json_response(request, 200, self._resource(bucket, name))
        if (bucket, name) not in self.objects:
            return _error(request, 404, "notFound", f"No such object: {bucket}/{name}")
        if (problem := self._precondition(request, query, bucket, name)) is not None:
            return problem
        if kind == "download" and request.method == "GET":
            obj = self.objects[bucket, name]
            headers = {"Content-Type": obj["type"], "x-goog-generation": str(obj["generation"]),
                       "Content-Length": str(len(obj["data"]))}
            response = requests.Response()  # streamed, as the client reads media
            response.status_code, response.headers = 200, requests.structures.\
                CaseInsensitiveDict(headers)
            response.raw = urllib3.HTTPResponse(body=io.BytesIO(obj["data"]), headers=headers,
                                                status=200, preload_content=False)
            response.request, response.url = request, request.url
            return response
        if request.method == "GET":
            return json_response(request, 200, self._resource(bucket, name))
        if request.method == "DELETE":
            del self.objects[bucket, name]
            response = requests.Response()
            response.status_code, response._content = 204, b""
            response.request, response.url = request, request.url
            return response
        raise AssertionError(f"unexpected call {request.method} {request.url}")


class FakeGoogleCloud:
    """Every Google API a cloud rollout calls, routed by host."""

    def __init__(self, buckets: set[str]):
        self.registry, self.bigquery = FakeRegistry(), FakeBigQuery()
        self.monitoring, self.gcs = FakeMonitoring(), FakeGcs(buckets)

    def send(self, request):
        host = urlparse(request.url).netloc
        service = {f"{REGION}-aiplatform.googleapis.com": self.registry,
                   "bigquery.googleapis.com": self.bigquery,
                   "monitoring.googleapis.com": self.monitoring,
                   "storage.googleapis.com": self.gcs}.get(host)
        assert service is not None, f"unexpected host in {request.url}"
        return service.send(request)


def created_pipeline_jobs(fake) -> list[dict]:
    """The bodies of every CreatePipelineJob request ``fake`` (a FakeGoogleCloud) answered."""
    return [b for m, p, b in fake.registry.calls if m == "POST" and p == "pipelineJobs"]
