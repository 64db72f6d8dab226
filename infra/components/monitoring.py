"""MonitoringJob: a Vertex AI Model Monitoring job as a Pulumi resource.

Neither pulumi-gcp nor the Terraform Google provider has a resource for a
``ModelDeploymentMonitoringJob``; this dynamic provider manages one with the
real ``google-cloud-aiplatform`` client (``pipelines.cloud.monitoring``):
create, diff on the spec (settings, thresholds, alerts, labels, training data),
update in place, delete. The job's id is its display name, so it is found again
whoever created it (``pulumi up``, or the first rollout tick on an endpoint that
served nothing yet).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from pipelines.cloud.monitoring import MonitoringSpec


class MonitoringJobProvider(ResourceProvider):
    """Create, diff, update and delete through ``pipelines.cloud.monitoring``."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        from pipelines.cloud.monitoring import check_spec, ensure_job

        spec = MonitoringSpec.from_dict(props["spec"])
        check_spec(spec)
        job = ensure_job(spec)
        return CreateResult(id_=spec.display_name, outs={**props, "job": job or ""})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = olds.get("spec"), news["spec"]
        where = ("project", "region", "endpoint_display_name")
        moved = old is None or any(old[k] != new[k] for k in where)
        return DiffResult(changes=old != new, replaces=["spec"] if moved else [],
                          delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        from pipelines.cloud.monitoring import check_spec, ensure_job

        spec = MonitoringSpec.from_dict(news["spec"])
        check_spec(spec)
        return UpdateResult(outs={**news, "job": ensure_job(spec) or ""})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from pipelines.cloud.monitoring import delete_job

        delete_job(MonitoringSpec.from_dict(props["spec"]))


class MonitoringJob(Resource):
    """The model's Model Monitoring job (skew, drift, sampling, schedule, alerts, labels)."""

    job: pulumi.Output[str]

    def __init__(self, name: str, spec: MonitoringSpec,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(MonitoringJobProvider(), name, {"spec": spec.as_dict(), "job": None},
                         opts)
