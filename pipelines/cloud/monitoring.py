"""Vertex AI Model Monitoring of a model's endpoint, from the stack's monitoring settings.

One ``ModelDeploymentMonitoringJob`` per monitored endpoint, found by its display
name (``<endpoint>-monitoring``): ``pulumi up`` creates, updates and deletes it
(``infra/components/monitoring.py``, a dynamic provider over these functions),
and the runner's rollout tick points it at the deployed models now serving. Its
thresholds come from ``MonitoringSettings.threshold``, the rule the local twin
uses, per feature; skew is measured against the model's training data in
BigQuery (its source table, or a view of its source query).

A job needs a deployed model: on an endpoint that serves nothing yet it is
created by the first rollout tick after the first version is deployed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipelines.cloud.google_api import google_errors, quoted
from pipelines.config.errors import FullcycleError
from pipelines.stack.config import MonitoringSettings

TRAINING_VIEW = "training_data"  # the view of a query source, in the model's dataset


def job_display_name(endpoint_display_name: str) -> str:
    return f"{endpoint_display_name}-monitoring"


def training_data_uri(project: str, dataset: str, table: str | None) -> str:
    """Where Vertex AI reads the training data for skew: the source table or its view."""
    return f"bq://{project}.{dataset}.{table or TRAINING_VIEW}"


@dataclass(frozen=True)
class MonitoringSpec:
    """Everything the job is made of; equal specs mean no update."""

    model: str
    project: str
    region: str
    endpoint_display_name: str
    training_data: str  # bq://project.dataset.table
    target_field: str
    features: tuple[str, ...]
    settings: dict[str, Any]  # MonitoringSettings, as plain data (Pulumi inputs)
    labels: dict[str, str]

    @property
    def display_name(self) -> str:
        return job_display_name(self.endpoint_display_name)

    @property
    def monitoring(self) -> MonitoringSettings:
        return MonitoringSettings.model_validate(self.settings)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitoringSpec:
        return cls(**{**data, "features": tuple(data["features"])})

    def thresholds(self, kind: str) -> dict[str, float]:
        """Per feature, the one threshold rule of the settings."""
        settings = self.monitoring
        return {f: settings.threshold(f, kind) for f in self.features}


def spec_for(model: str, stack: str) -> MonitoringSpec | None:
    """The model's monitoring spec from ``Pulumi.<stack>.yaml``; None when not monitored."""
    from pipelines.stack.config import StackConfig

    return spec_of(StackConfig.load(stack), model)


def spec_of(config, model: str) -> MonitoringSpec | None:
    """The model's monitoring spec in the stack ``config``; None when not monitored."""
    from pipelines.cloud.target import CloudTarget
    from pipelines.config.registry import load_config
    from pipelines.stack.config import labels

    entry = config.entry(model)
    if entry is None or not entry.monitoring.enabled or not entry.endpoint.enabled:
        return None
    model_config = load_config(model)
    target = CloudTarget.of(config, model)
    return MonitoringSpec(
        model=model, project=config.project, region=config.region,
        endpoint_display_name=target.endpoint,
        training_data=training_data_uri(config.project, target.dataset,
                                        model_config.source.table),
        target_field=model_config.label_key,
        features=tuple(f for f in model_config.raw_feature_keys
                       if f not in model_config.sequence_features),
        settings=entry.monitoring.model_dump(mode="json"), labels=labels(config, model))


def _sdk(spec: MonitoringSpec, serving: list[str]):
    """The SDK's configs of the job: an objective per deployed model serving, sampling,
    schedule, alerts."""
    from google.cloud.aiplatform import model_monitoring

    settings = spec.monitoring

    def objective():  # one object per deployed model: the SDK converts each once
        return model_monitoring.ObjectiveConfig(
            skew_detection_config=model_monitoring.SkewDetectionConfig(
                data_source=spec.training_data, target_field=spec.target_field,
                skew_thresholds=spec.thresholds("skew")),
            drift_detection_config=model_monitoring.DriftDetectionConfig(
                drift_thresholds=spec.thresholds("drift")))

    return dict(
        objective_configs={deployed_id: objective() for deployed_id in serving},
        logging_sampling_strategy=model_monitoring.RandomSampleConfig(
            sample_rate=settings.sample_rate),
        schedule_config=model_monitoring.ScheduleConfig(monitor_interval=settings.interval_hours),
        alert_config=model_monitoring.AlertConfig(
            user_emails=list(settings.alert_emails), enable_logging=True,
            notification_channels=list(settings.notification_channels)))


def _where(spec: MonitoringSpec, credentials) -> dict:
    return {"project": spec.project, "location": spec.region, "credentials": credentials}


def find_job(spec: MonitoringSpec, credentials=None):
    """The model's monitoring job, or None."""
    from google.cloud import aiplatform

    with google_errors(f"model {spec.model!r}: listing monitoring jobs"):
        jobs = aiplatform.ModelDeploymentMonitoringJob.list(
            filter=f'display_name="{quoted(spec.display_name)}"', **_where(spec, credentials))
    return jobs[0] if jobs else None


def _endpoint(spec: MonitoringSpec, credentials):
    from pipelines.cloud.endpoint import endpoint_named

    return endpoint_named(spec.project, spec.region, spec.endpoint_display_name, credentials)


def deployed_ids(endpoint) -> list[str]:
    return [m.id for m in endpoint.list_models()]


def ensure_job(spec: MonitoringSpec, credentials=None) -> str | None:
    """Creates the job, or updates it to ``spec`` and the models the endpoint now serves.
    Returns its resource name; None while the endpoint serves no model (nothing to watch)."""
    from google.cloud import aiplatform

    endpoint = _endpoint(spec, credentials)
    serving = deployed_ids(endpoint)
    job = find_job(spec, credentials)
    if not serving:
        return job.resource_name if job else None
    configs = _sdk(spec, serving)
    with google_errors(f"model {spec.model!r}: "
                       f"{'updating' if job else 'creating'} monitoring job "
                       f"{spec.display_name!r}"):
        if job is None:
            job = aiplatform.ModelDeploymentMonitoringJob.create(
                endpoint=endpoint, display_name=spec.display_name, labels=spec.labels,
                **configs, **_where(spec, credentials))
        else:
            _update(job, endpoint, spec.labels, **configs)
    return job.resource_name


def _update(job, endpoint, labels: dict[str, str], *, objective_configs,
            logging_sampling_strategy, schedule_config, alert_config) -> None:
    """``ModelDeploymentMonitoringJob.update`` without its deep copy and without waiting on
    the operation: the patch is the job as read, with the spec's configs; the job is read
    back afterwards."""
    from google.protobuf import field_mask_pb2

    current = job.gca_resource
    current.model_deployment_monitoring_objective_configs = job._parse_configs(
        objective_configs=objective_configs, endpoint=endpoint)
    current.logging_sampling_strategy = logging_sampling_strategy.as_proto()
    current.model_deployment_monitoring_schedule_config = schedule_config.as_proto()
    current.model_monitoring_alert_config = alert_config.as_proto()
    current.labels = labels
    job.api_client.update_model_deployment_monitoring_job(
        model_deployment_monitoring_job=current,
        update_mask=field_mask_pb2.FieldMask(paths=[
            "model_deployment_monitoring_objective_configs", "logging_sampling_strategy",
            "model_deployment_monitoring_schedule_config", "model_monitoring_alert_config",
            "labels"]))
    job._sync_gca_resource()


def watched_ids(job) -> list[str]:
    """The deployed models a job's objective configs name."""
    return sorted(c.deployed_model_id
                  for c in job.gca_resource.model_deployment_monitoring_objective_configs)


def point_at_serving(spec: MonitoringSpec, credentials=None) -> str:
    """After the canary moved traffic: the job watches exactly the deployed models that
    serve now (updated, not re-created). Returns what it did."""
    endpoint = _endpoint(spec, credentials)
    serving = sorted(deployed_ids(endpoint))
    job = find_job(spec, credentials)
    if job is not None and watched_ids(job) == serving:
        return f"monitoring job {spec.display_name!r} already watches {', '.join(serving)}"
    name = ensure_job(spec, credentials)
    if name is None:
        return "monitoring: the endpoint serves no model yet"
    return f"monitoring job {spec.display_name!r} now watches {', '.join(serving)}"


def delete_job(spec: MonitoringSpec, credentials=None) -> None:
    """Deletes the job (pausing it first, as Vertex AI requires for a running job)."""
    job = find_job(spec, credentials)
    if job is None:
        return
    with google_errors(f"model {spec.model!r}: deleting monitoring job {spec.display_name!r}"):
        if job.state.name in ("JOB_STATE_RUNNING", "JOB_STATE_PENDING"):
            job.pause()
        job.delete()


def check_spec(spec: MonitoringSpec) -> None:
    """What Vertex AI would refuse, refused before any call."""
    if not spec.training_data.startswith("bq://"):
        raise FullcycleError(f"model {spec.model!r}: monitoring training data "
                             f"{spec.training_data!r} is not a bq:// table")
    if not spec.features:
        raise FullcycleError(f"model {spec.model!r}: no feature to monitor")
