"""The stack config, read once into a frozen typed object and validated before any resource.

Pulumi's stack config (``Pulumi.<stack>.yaml``) holds ``gcp:project``,
``gcp:region`` and the ``fullcycle:*`` keys declared in ``Pulumi.yaml``.
``from_pulumi`` reads them inside a Pulumi program; ``from_stack_file`` reads
the same file for the offline plan; both validate through ``from_mapping``.
"""

from __future__ import annotations

import functools
import os
import re
import typing
import zoneinfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.config.errors import ConfigError, did_you_mean, problem_text, unknown
from pipelines.stack.names import ModelNames, check, slug
from pipelines.stack.network import INVOKER, SUBNETWORK, DataflowSettings
from pipelines.stack.regions import VERTEX_REGIONS

# Where Pulumi.yaml and the stack files are: the checkout, or /app in the runner image.
PROJECT_ROOT = Path(os.environ.get("FULLCYCLE_PROJECT_ROOT", Path(__file__).resolve().parents[2]))


STACK_ENV = "FULLCYCLE_STACK"
# The stack's settings as ``pulumi up`` hands them to the runner (JSON of StackConfig).
SETTINGS_ENV = "FULLCYCLE_SETTINGS"


def default_stack() -> str:
    """The stack every command uses unless told otherwise: ``FULLCYCLE_STACK``, else ``dev``."""
    return os.environ.get(STACK_ENV) or "dev"


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zones (``zoneinfo.available_timezones`` walks the tz database: ~60 ms)."""
    return frozenset(zoneinfo.available_timezones())


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetrySettings(_Frozen):
    """Cloud Scheduler retries of a failed trigger (and how long one attempt may take)."""

    retry_count: int = Field(3, ge=0, le=5)
    min_backoff_seconds: int = Field(10, ge=1, le=3600)
    max_backoff_seconds: int = Field(300, ge=1, le=3600)
    max_doublings: int = Field(3, ge=0, le=16)
    attempt_deadline_seconds: int = Field(320, ge=15, le=1800)

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.min_backoff_seconds > self.max_backoff_seconds:
            raise ValueError(f"min_backoff_seconds {self.min_backoff_seconds} is above "
                             f"max_backoff_seconds {self.max_backoff_seconds}")
        return self


class CanarySettings(_Frozen):
    """How a blessed model takes over the endpoint: traffic steps, checks and failure budget."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval_minutes: int = Field(10, ge=1, le=1440)
    failure_threshold: int = Field(2, ge=1, le=100)
    min_samples: int = Field(20, ge=1, description="Candidate requests needed per interval.")
    progress_deadline_minutes: int = Field(360, ge=1, description="Abort older rollouts.")
    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_latency_p99_ms: float = Field(500.0, gt=0)
    max_prediction_shift: float = Field(
        0.5, gt=0, description="|mean(candidate) - mean(stable)| / spread of stable predictions.")
    max_mse_increase: float | None = Field(
        None, ge=0, description="Labelled: MSE(candidate) - MSE(stable) from feedback.")

    @field_validator("interval_minutes")
    @classmethod
    def _interval(cls, minutes: int) -> int:
        if minutes >= 60 and minutes % 60:
            raise ValueError(f"canary interval_minutes {minutes} cannot be a Cloud Scheduler "
                             "cadence: use 1..59 minutes or whole hours (60, 120, ... 1440)")
        return minutes

    @property
    def tick_schedule(self) -> str:
        """The cron schedule of the rollout's Scheduler job: one tick per interval."""
        if self.interval_minutes < 60:
            return f"*/{self.interval_minutes} * * * *"
        hours = self.interval_minutes // 60
        return "0 0 * * *" if hours == 24 else f"0 */{hours} * * *"

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not steps or steps[-1] != 100:
            raise ValueError(f"canary steps {list(steps)} must end at 100")
        if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
            raise ValueError(f"canary steps {list(steps)} must rise strictly within 1..100")
        return steps


class EndpointSettings(_Frozen):
    """The model's Vertex AI endpoint and its serving machines."""

    enabled: bool = True
    machine_type: str = "n1-standard-2"
    min_replicas: int = Field(1, ge=1, le=100)
    max_replicas: int = Field(2, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> EndpointSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} is above max_replicas "
                             f"{self.max_replicas}")
        return self


class ScoringSettings(_Frozen):
    """The model's scheduled batch scoring (a Vertex AI BatchPredictionJob per tick).

    Without ``schedule`` nothing is scheduled; ``POST /scores`` still scores on request.
    """

    schedule: str | None = Field(None, description="unix-cron, as Cloud Scheduler takes it")
    time_zone: str = "Etc/UTC"
    machine_type: str = "n1-standard-4"
    starting_replicas: int = Field(1, ge=1, le=1000)
    max_replicas: int = Field(4, ge=1, le=1000)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        return None if schedule is None else _check_cron("scoring schedule", schedule)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, time_zone: str) -> str:
        if time_zone not in time_zones():
            raise ValueError(unknown("scoring time zone", time_zone, time_zones()))
        return time_zone

    @model_validator(mode="after")
    def _ordered(self) -> ScoringSettings:
        if self.starting_replicas > self.max_replicas:
            raise ValueError(f"scoring starting_replicas {self.starting_replicas} is above "
                             f"max_replicas {self.max_replicas}")
        return self


def _check_cron(what: str, schedule: str) -> str:
    from croniter import croniter

    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise ValueError(f"{what} {schedule!r} is not a 5-field unix-cron expression "
                         "(e.g. '0 3 * * *')")
    return schedule


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NOTIFICATION_CHANNEL = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/\d+$")


class FeatureThresholds(_Frozen):
    """One feature's own skew and drift thresholds (the model's defaults otherwise)."""

    skew: float | None = Field(None, gt=0, le=1)
    drift: float | None = Field(None, gt=0, le=1)


class MonitoringSettings(_Frozen):
    """Skew and drift of what the endpoint serves: Vertex AI Model Monitoring, and the
    local twin (``fullcycle monitor``) with the same distances and thresholds.

    Distances are TFDV's and Vertex's: Jensen-Shannon divergence for numeric
    features, L-infinity distance for categorical ones; an alert fires when a
    feature's distance is above its threshold (``threshold``).
    """

    enabled: bool = False
    sample_rate: float = Field(0.8, gt=0, le=1, description="Share of requests analysed.")
    interval_hours: int = Field(24, ge=1, le=24 * 7, description="Hours between analyses.")
    skew_threshold: float = Field(0.3, gt=0, le=1, description="Served vs training data.")
    drift_threshold: float = Field(0.3, gt=0, le=1, description="Served vs the window before.")
    features: dict[str, FeatureThresholds] = Field(default_factory=dict)
    alert_emails: tuple[str, ...] = ()
    notification_channels: tuple[str, ...] = ()
    min_samples: int = Field(100, ge=1, description="Fewer requests in a window: not enough "
                                                    "data (the local twin).")

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        for email in emails:
            if not EMAIL.match(email):
                raise ValueError(f"alert email {email!r} is not an email address")
        return emails

    @field_validator("notification_channels")
    @classmethod
    def _channels(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        for channel in channels:
            if not NOTIFICATION_CHANNEL.match(channel):
                raise ValueError(f"notification channel {channel!r} is not "
                                 "projects/<project>/notificationChannels/<id>")
        return channels

    @model_validator(mode="after")
    def _alerts_somewhere(self) -> MonitoringSettings:
        if self.enabled and not (self.alert_emails or self.notification_channels):
            raise ValueError("monitoring is enabled but alerts go nowhere: give alert_emails "
                             "and/or notification_channels")
        return self

    def threshold(self, feature: str, kind: str) -> float:
        """The one threshold rule: the feature's own ``skew``/``drift``, else the default."""
        own = getattr(self.features.get(feature) or FeatureThresholds(), kind)
        return own if own is not None else getattr(self, f"{kind}_threshold")


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        for problem in (check("label key", key), check("label value", value)):
            if problem:
                raise ValueError(problem)
    return labels


class ModelEntry(_Frozen):
    """One model in production: its schedule, data location, endpoint and canary."""

    name: str
    schedule: str = Field("0 3 * * *", description="unix-cron, as Cloud Scheduler takes it")
    time_zone: str = "Etc/UTC"
    bigquery_location: str = "EU"
    endpoint: EndpointSettings = Field(default_factory=EndpointSettings)
    canary: CanarySettings = Field(default_factory=CanarySettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _monitored_features(self) -> ModelEntry:
        if not self.monitoring.features:
            return self
        from pipelines.config.registry import load_config

        declared = load_config(self.name).raw_feature_keys
        for feature in self.monitoring.features:
            if feature not in declared:
                raise ValueError(f"monitoring.features names {feature!r}, not a feature of "
                                 f"{self.name}{did_you_mean(feature, declared)}; its "
                                 f"features: {', '.join(declared)}")
        if self.monitoring.enabled and not self.endpoint.enabled:
            raise ValueError("monitoring watches the model's endpoint: enable endpoint too")
        return self

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        from pipelines.config.registry import list_models

        known = list_models()
        if name not in known:
            raise ValueError(unknown("model", name, known) + " (folders in pipelines/models/)")
        return name

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        return _check_cron("schedule", schedule)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, time_zone: str) -> str:
        if time_zone not in time_zones():
            raise ValueError(unknown("time zone", time_zone, time_zones()))
        return time_zone

    _labels = field_validator("labels")(classmethod(lambda cls, v: _check_labels(v)))


class StackConfig(_Frozen):
    """Everything ``pulumi up`` provisions, per stack."""

    stack: str = "dev"
    project: str
    region: str = "europe-west4"
    runner_image: str | None = Field(
        None, description="An image built elsewhere (CI); by default pulumi up builds it.")
    labels: dict[str, str] = Field(default_factory=dict)
    models: tuple[ModelEntry, ...] = ()
    dataflow: DataflowSettings = Field(default_factory=DataflowSettings)
    invokers: tuple[str, ...] = Field(
        (), description="Members granted roles/run.invoker on the runner besides the "
                        "scheduler's account (serviceAccount:<email>, e.g. Airflow's)")

    @property
    def image(self) -> str:
        """The runner and component image: ``runner_image``, else the one ``pulumi up``
        builds from this tree (tagged by its content hash)."""
        if self.runner_image:
            return self.runner_image
        from pipelines.stack.image import content_tag, image_repository

        return f"{image_repository(self.project, self.region)}:{content_tag(PROJECT_ROOT)}"

    _labels = field_validator("labels")(classmethod(lambda cls, v: _check_labels(v)))

    @field_validator("project")
    @classmethod
    def _project(cls, project: str) -> str:
        if problem := check("project id", project):
            raise ValueError(problem)
        return project

    @field_validator("region")
    @classmethod
    def _region(cls, region: str) -> str:
        if region not in VERTEX_REGIONS:
            raise ValueError(unknown("Vertex AI region", region, sorted(VERTEX_REGIONS)))
        return region

    @field_validator("invokers")
    @classmethod
    def _invokers(cls, invokers: tuple[str, ...]) -> tuple[str, ...]:
        for member in invokers:
            if not INVOKER.match(member):
                raise ValueError(f"invoker {member!r} is not serviceAccount:<email>, "
                                 "user:<email> or group:<email> (the runner is never public)")
        if len(set(invokers)) != len(invokers):
            raise ValueError(f"invokers {list(invokers)} list a member twice")
        return invokers

    @model_validator(mode="after")
    def _subnetwork_region(self) -> StackConfig:
        found = self.dataflow.subnetwork and SUBNETWORK.match(self.dataflow.subnetwork)
        if found and found["region"] != self.region:
            raise ValueError(f"dataflow.subnetwork {self.dataflow.subnetwork!r} is in region "
                             f"{found['region']!r}; Dataflow workers run in the stack's region "
                             f"{self.region!r}: give a subnetwork of that region")
        return self

    @model_validator(mode="after")
    def _models(self) -> StackConfig:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model(s) listed twice: {', '.join(dupes)}")
        for i, entry in enumerate(self.models):
            problems = ModelNames(entry.name, self.project).problems()
            if problems:
                raise ValueError(f"models[{i}] ({entry.name}): " + "; ".join(problems))
        return self

    def names(self, model: str) -> ModelNames:
        return ModelNames(model, self.project)

    def entry(self, model: str) -> ModelEntry | None:
        """The model's entry under ``fullcycle:models``, None if it is not in the stack."""
        return next((m for m in self.models if m.name == model), None)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], stack: str = "dev") -> StackConfig:
        """Validates Pulumi-style keys (``gcp:project``, ``fullcycle:models``, ...)."""
        data = {"stack": stack}
        for key, value in raw.items():
            namespace, _, name = key.partition(":")
            if namespace == "gcp" and name in ("project", "region"):
                data[name] = value
            elif namespace == "fullcycle":
                data[{"runnerImage": "runner_image"}.get(name, name)] = value
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise ConfigError(format_stack_error(stack, err)) from None

    @classmethod
    def load(cls, stack: str = "dev") -> StackConfig:
        """The stack's settings: as ``pulumi up`` handed them to this process
        (``FULLCYCLE_SETTINGS``, the runner), else ``Pulumi.<stack>.yaml``."""
        handed = os.environ.get(SETTINGS_ENV)
        if handed:
            try:
                config = cls.model_validate_json(handed)
            except ValidationError as err:
                raise ConfigError(format_stack_error(stack, err).replace(
                    f"Pulumi.{stack}.yaml", f"the settings in {SETTINGS_ENV}")) from None
            if config.stack == stack:
                return config
        return cls.from_stack_file(stack)

    def settings_json(self, runner_image: str) -> str:
        """What ``pulumi up`` hands the runner: these settings with the image it runs."""
        return self.model_copy(update={"runner_image": runner_image}).model_dump_json()

    @classmethod
    def from_stack_file(cls, stack: str = "dev", root: Path = PROJECT_ROOT) -> StackConfig:
        """Reads ``Pulumi.<stack>.yaml`` (as ``pulumi up`` would) and validates it."""
        path = root / f"Pulumi.{stack}.yaml"
        if not path.exists():
            stacks = sorted(p.name[len("Pulumi."):-len(".yaml")]
                            for p in root.glob("Pulumi.*.yaml"))
            raise ConfigError(unknown("stack", stack, stacks) + f" ({path} does not exist)")
        raw = (yaml.safe_load(path.read_text()) or {}).get("config", {})
        return cls.from_mapping(raw, stack)

    @classmethod
    def from_pulumi(cls) -> StackConfig:
        """Reads the running Pulumi program's stack config."""
        import pulumi

        gcp, ours = pulumi.Config("gcp"), pulumi.Config("fullcycle")
        raw = {"gcp:project": gcp.require("project"), "gcp:region": gcp.get("region"),
               "fullcycle:runnerImage": ours.get("runnerImage"),
               "fullcycle:labels": ours.get_object("labels"),
               "fullcycle:models": ours.get_object("models"),
               "fullcycle:dataflow": ours.get_object("dataflow"),
               "fullcycle:invokers": ours.get_object("invokers")}
        return cls.from_mapping({k: v for k, v in raw.items() if v is not None},
                                pulumi.get_stack())


def labels(stack: StackConfig, model: str | None = None) -> dict[str, str]:
    """The labels of every labelable resource and run-time job of ``stack`` (and ``model``).

    The stack's own labels (``fullcycle:labels``, e.g. a cost center), then the
    model entry's, then ``app``, ``stack`` and ``model``, which always win: the
    same labels on what ``pulumi up`` creates and on the Vertex pipeline jobs,
    Dataflow jobs, BigQuery jobs and model versions a run creates.
    """
    entry = stack.entry(model) if model is not None else None
    fixed = {"app": "fullcycle", "stack": stack.stack}
    if model is not None:
        fixed["model"] = slug(model)
    return {**stack.labels, **(entry.labels if entry else {}), **fixed}


_KEYS = {"project": "gcp:project", "region": "gcp:region", "runner_image": "fullcycle:runnerImage",
         "labels": "fullcycle:labels", "models": "fullcycle:models",
         "dataflow": "fullcycle:dataflow", "invokers": "fullcycle:invokers"}


def format_stack_error(stack: str, err: ValidationError) -> str:
    """One line per problem, naming the config key path and the bad value."""
    lines = [f"stack {stack!r}: Pulumi.{stack}.yaml is not valid ({err.error_count()} problem(s))"]
    for problem in err.errors():
        loc = list(problem["loc"])
        head = _KEYS.get(str(loc[0]), str(loc[0])) if loc else "config"
        path = head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
        text = ("unknown key" + did_you_mean(loc[-1], _allowed_keys(loc))
                if problem["type"] == "extra_forbidden" else problem_text(problem))
        lines.append(f"  - {path}: {text}")
    return "\n".join(lines)


def _allowed_keys(loc: list) -> list[str]:
    """The keys the config block at ``loc`` (an error's location) takes."""
    cls: Any = StackConfig
    skip_key = False
    for part in loc[:-1]:
        if isinstance(part, int) or skip_key:
            skip_key = False
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            skip_key = True  # the next part is a key of the mapping
        cls = next((a for a in _flat_args(annotation)
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if cls is None:
            return []
    return list(cls.model_fields)


def _flat_args(annotation) -> list:
    args = typing.get_args(annotation)
    return [annotation] if not args else [x for a in args for x in _flat_args(a)]
