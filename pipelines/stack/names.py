"""Names shared by the infrastructure and the runtime, and the rules GCP enforces on ids.

One place decides every id, table, route and prefix: the Pulumi program creates
them and the runner, pipelines and canary read them from here, so the two sides
cannot drift apart. The stack config is refused before any resource is declared
when a model name would make an invalid id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULES = {
    "project id": (re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"),
                   "6-30 lowercase letters, digits or hyphens, starting with a letter"),
    "service account id": (re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$"),
                           "6-30 lowercase letters, digits or hyphens, starting with a letter"),
    "bucket name": (re.compile(r"^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$"),
                    "3-63 lowercase letters, digits, '-', '_' or '.', starting and ending "
                    "with a letter or digit"),
    "dataset id": (re.compile(r"^[A-Za-z0-9_]{1,1024}$"), "letters, digits or underscores"),
    "Cloud Run service name": (re.compile(r"^[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?$"),
                               "at most 49 lowercase letters, digits or hyphens, starting "
                               "with a letter"),
    "Cloud Scheduler job name": (re.compile(r"^[A-Za-z0-9_-]{1,500}$"),
                                 "letters, digits, hyphens or underscores"),
    "label key": (re.compile(r"^[a-z][a-z0-9_-]{0,62}$"),
                  "at most 63 lowercase letters, digits, '_' or '-', starting with a letter"),
    "label value": (re.compile(r"^[a-z0-9_-]{0,63}$"),
                    "at most 63 lowercase letters, digits, '_' or '-'"),
}


def check(kind: str, value: str) -> str | None:
    """None when ``value`` is a valid ``kind``, else what is wrong with it."""
    pattern, rule = RULES[kind]
    return None if pattern.match(value) else f"{kind} {value!r} is invalid: {rule}"


RUNNER_SERVICE = "fullcycle-runner"
RUNNER_ACCOUNT = "fc-runner"
SCHEDULER_ACCOUNT = "fc-scheduler"
REPOSITORY = "fullcycle"
ROLLOUT_PREFIX = "rollouts/"  # the objects of a model's bucket holding its canary's state
BASELINE_PREFIX = "baselines/"  # the objects of a model's bucket holding its data baseline
MODEL_PREFIX = "models/"  # pushed models, kept: Model Registry versions point at them
HYPERPARAMETERS_PREFIX = "hyperparameters/"  # its tuning results and their pointer
SCORE_PREFIX = "scores/"  # each cloud score's append lease and result marker
REQUEST_LOG_TABLE = "endpoint_requests"  # in the model's dataset: the endpoint's request log
RUNS_ROUTE = "/runs"  # the runner route each model's training Scheduler job POSTs to
ROLLOUT_TICK_ROUTE = "/rollouts/{model}:tick"  # the route its rollout Scheduler job POSTs to
MONITORING_CHECK_ROUTE = "/monitoring/{model}:check"
SCORES_ROUTE = "/scores"  # the runner route each model's scoring Scheduler job POSTs to


def slug(model: str) -> str:
    """A model name as GCP ids and label values take it (``taxi_tips`` -> ``taxi-tips``)."""
    return model.replace("_", "-").lower()


def rollout_tick_route(model: str) -> str:
    return ROLLOUT_TICK_ROUTE.format(model=model)


def local_endpoint_path(model: str) -> str:
    """The local endpoint's resource path, as on Vertex AI (project and location "local")."""
    return f"/v1/projects/local/locations/local/endpoints/{model}"


@dataclass(frozen=True)
class ModelNames:
    """Every GCP id of one model's resources."""

    model: str
    project: str

    @property
    def slug(self) -> str:
        return slug(self.model)

    @property
    def service_account_id(self) -> str:
        return f"fc-{self.slug}"

    @property
    def bucket(self) -> str:
        return f"{self.project}-fc-{self.slug}"

    @property
    def dataset_id(self) -> str:
        return f"fc_{self.model}"

    @property
    def scheduler_job(self) -> str:
        return f"fc-{self.slug}-train"

    @property
    def rollout_job(self) -> str:
        return f"fc-{self.slug}-rollout"

    @property
    def score_job(self) -> str:
        return f"fc-{self.slug}-score"

    @property
    def endpoint_display_name(self) -> str:
        return f"fc-{self.slug}"

    def problems(self) -> list[str]:
        """Which generated ids GCP would refuse, and why."""
        checks = [("service account id", self.service_account_id), ("bucket name", self.bucket),
                  ("dataset id", self.dataset_id),
                  ("Cloud Scheduler job name", self.scheduler_job),
                  ("Cloud Scheduler job name", self.rollout_job)]
        problems = [p for kind, value in checks if (p := check(kind, value))]
        if self.model != self.model.lower():
            problems.append(f"model name {self.model!r} has upper-case letters, which GCS bucket "
                            "and service account ids do not allow")
        return problems
