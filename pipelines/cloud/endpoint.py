"""A model's Vertex AI endpoint, as the canary and the Pusher drive it.

:class:`VertexEndpoint` implements :class:`~pipelines.canary.endpoint.EndpointOps`
through google-cloud-aiplatform: traffic split, deploy, undeploy. Each deployed
model's window metrics come from

- the endpoint's request-response log, which Vertex AI writes to BigQuery
  (``{project}.{dataset}.endpoint_requests``: ``deployed_model_id``,
  ``logging_time``, ``response_payload`` with one JSON prediction per instance):
  the answered requests, their predictions' mean and spread, NaN answers;
- Cloud Monitoring: ``prediction/online/prediction_latencies`` (p99 over the
  window) and ``prediction/online/error_count`` (failed requests, which the log
  does not hold). Monitoring publishes with a delay of a few minutes, so the
  last minutes of a window may count in the next one; an interval of 10
  minutes (the default) keeps that small.

The labelled metric needs fed-back labels keyed by request, which Vertex AI's
predict response does not identify: it is measured on the local endpoint only.
"""

from __future__ import annotations

import datetime as dt
import json
import math

from pipelines.canary.endpoint import EndpointError, WindowMetrics, first_number
from pipelines.cloud.google_api import google_errors, quoted, seconds_of
from pipelines.cloud.target import CloudTarget
from pipelines.config.errors import FullcycleError
from pipelines.stack.names import REQUEST_LOG_TABLE

LATENCY_METRIC = "aiplatform.googleapis.com/prediction/online/prediction_latencies"
ERROR_METRIC = "aiplatform.googleapis.com/prediction/online/error_count"
MONITORING_API = "https://monitoring.googleapis.com/v3"


def find_endpoint(target: CloudTarget, credentials=None):
    """The model's Vertex AI endpoint (display name ``fc-<model>``); a clear error if absent."""
    if target.endpoint is None:
        raise FullcycleError(f"model {target.model!r} has no endpoint in the stack "
                             "(endpoint.enabled is false)")
    return endpoint_named(target.project, target.region, target.endpoint, credentials)


def endpoint_named(project: str, region: str, display_name: str, credentials=None):
    """The Vertex AI endpoint of that display name; a clear error if absent."""
    from google.cloud import aiplatform

    endpoints = aiplatform.Endpoint.list(filter=f'display_name="{quoted(display_name)}"',
                                         project=project, location=region,
                                         credentials=credentials)
    if not endpoints:
        raise FullcycleError(f"endpoint {display_name!r} does not exist in "
                             f"{project}/{region}; create it with `pulumi up`")
    return endpoints[0]


def _timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _rfc3339(seconds: float) -> str:
    return _timestamp(seconds).isoformat().replace("+00:00", "Z")


def _created(deployed_model) -> float:
    """When a deployed model was deployed (0 when the endpoint does not say)."""
    return seconds_of(deployed_model.create_time) or 0.0


class VertexEndpoint:
    """A model's Vertex AI endpoint as :class:`~pipelines.canary.endpoint.EndpointOps`."""

    def __init__(self, target: CloudTarget, credentials=None):
        self.target, self.credentials = target, credentials
        self._where = {"project": target.project, "location": target.region,
                       "credentials": credentials}
        self._name: str | None = None
        self._bigquery = None  # clients made on first use, then reused for the tick
        self._monitoring_credentials = credentials

    def _endpoint(self):
        """The endpoint as it is now (looked up by display name once, then by id)."""
        from google.cloud import aiplatform

        with google_errors(f"reading endpoint {self.target.endpoint!r}"):
            if self._name is None:
                self._name = find_endpoint(self.target, self.credentials).resource_name
            return aiplatform.Endpoint(self._name, **self._where)

    def describe(self) -> dict:
        """Deployed models in the order they were deployed, and the traffic split."""
        endpoint = self._endpoint()
        models = sorted(endpoint.gca_resource.deployed_models, key=_created)
        return {"deployedModels": [{"id": d.id, "model": d.model} for d in models],
                "trafficSplit": dict(endpoint.traffic_split)}

    def deploy(self, model: str, split: dict[str, int], display_name: str | None = None) -> str:
        """Deploys a registry model (``projects/../models/ID[@version]``) with ``split``
        (``"0"`` names the new one); returns the new deployed model's id."""
        from google.cloud import aiplatform

        endpoint = self._endpoint()
        before = {d.id for d in endpoint.gca_resource.deployed_models}
        with google_errors(f"deploying {model} to {self.target.endpoint!r}"):
            aiplatform.Model(model, **self._where).deploy(
                endpoint=endpoint, traffic_split=split, machine_type=self.target.machine_type,
                deployed_model_display_name=display_name,
                min_replica_count=self.target.min_replicas,
                max_replica_count=self.target.max_replicas, sync=True)
        new = [d.id for d in self._endpoint().gca_resource.deployed_models if d.id not in before]
        if not new:
            raise EndpointError(f"deploying {model} to {self.target.endpoint!r} added no model")
        return new[0]

    def set_split(self, split: dict[str, int]) -> None:
        with google_errors(f"setting the traffic split of {self.target.endpoint!r} to {split}"):
            self._endpoint().update(traffic_split=split)

    def undeploy(self, deployed_id: str) -> None:
        """Undeploys ``deployed_id``; one already gone counts as done (a repeated step)."""
        from google.api_core.exceptions import NotFound

        endpoint = self._endpoint()
        if deployed_id not in {d.id for d in endpoint.gca_resource.deployed_models}:
            return
        with google_errors(f"undeploying {deployed_id} from {self.target.endpoint!r}"):
            try:
                endpoint.undeploy(deployed_model_id=deployed_id)
            except NotFound:  # undeployed by a concurrent or earlier attempt
                return

    def window_metrics(self, deployed_id: str, since: float, until: float) -> WindowMetrics:
        """The requests ``deployed_id`` answered in [since, until), from BigQuery and Monitoring."""
        values, nan = [], 0
        for payload in self._logged_predictions(deployed_id, since, until):
            value = first_number(json.loads(payload[0])) if payload else None
            if value is None:
                nan += 1
            else:
                values.append(value)
        answered = len(values) + nan
        failed = self._error_count(deployed_id, since, until)
        p99 = self._latency_p99(deployed_id, since, until) if answered else 0.0
        return WindowMetrics.of(answered + failed, nan + failed, p99, values, [])

    def _logged_predictions(self, deployed_id: str, since: float, until: float) -> list[list]:
        from google.cloud import bigquery

        table = f"{self.target.project}.{self.target.dataset}.{REQUEST_LOG_TABLE}"
        sql = (f"SELECT response_payload FROM `{table}`\n"
               "WHERE deployed_model_id = @deployed_model_id\n"
               "  AND logging_time >= @since AND logging_time < @until")
        config = bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("deployed_model_id", "STRING", deployed_id),
            bigquery.ScalarQueryParameter("since", "TIMESTAMP", _timestamp(since)),
            bigquery.ScalarQueryParameter("until", "TIMESTAMP", _timestamp(until))],
            labels=self.target.labels)
        with google_errors(f"reading the request log {table}"):
            if self._bigquery is None:
                self._bigquery = bigquery.Client(project=self.target.project,
                                                 credentials=self.credentials)
            return [list(row["response_payload"]) for row in
                    self._bigquery.query(sql, job_config=config).result()]

    def _series(self, metric: str, aligner: str, deployed_id: str, since: float,
                until: float) -> list[dict]:
        """Cloud Monitoring's ``timeSeries.list`` (REST) of one metric of ``deployed_id``."""
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        if self._name is None:
            self._endpoint()
        # One aligned point covers the whole window (Monitoring's minimum period is 60 s).
        period = max(60, math.ceil(until - since))
        params = {
            "filter": (f'metric.type = "{metric}" AND '
                       'resource.type = "aiplatform.googleapis.com/Endpoint" AND '
                       f'resource.labels.endpoint_id = "{self._name.rsplit("/", 1)[-1]}" AND '
                       f'metric.labels.deployed_model_id = "{deployed_id}"'),
            "interval.startTime": _rfc3339(until - period),
            "interval.endTime": _rfc3339(until),
            "aggregation.alignmentPeriod": f"{period}s",
            "aggregation.perSeriesAligner": aligner, "view": "FULL"}
        if self._monitoring_credentials is None:
            self._monitoring_credentials = google.auth.default(
                scopes=["https://www.googleapis.com/auth/monitoring.read"])[0]
        url = f"{MONITORING_API}/projects/{self.target.project}/timeSeries"
        series: list[dict] = []
        with AuthorizedSession(self._monitoring_credentials) as session:
            while True:
                response = session.get(url, params=params, timeout=60)
                if response.status_code != 200:
                    raise FullcycleError(f"reading {metric} from Cloud Monitoring failed: "
                                         f"{response.status_code} {response.text[:500]}")
                page = response.json()
                series += page.get("timeSeries", [])
                if not page.get("nextPageToken"):
                    return series
                params["pageToken"] = page["nextPageToken"]

    def _latency_p99(self, deployed_id: str, since: float, until: float) -> float:
        """The highest p99 of the window across latency series (total ≥ model ≥ overhead)."""
        series = self._series(LATENCY_METRIC, "ALIGN_PERCENTILE_99", deployed_id, since, until)
        return max((float(p["value"]["doubleValue"]) for s in series for p in s["points"]),
                   default=0.0)

    def _error_count(self, deployed_id: str, since: float, until: float) -> int:
        series = self._series(ERROR_METRIC, "ALIGN_SUM", deployed_id, since, until)
        return sum(int(p["value"]["int64Value"]) for s in series for p in s["points"])
