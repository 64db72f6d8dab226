"""Deployment to Vertex AI: a blessed model becomes a new version and a canary on the endpoint.

The model's Model Registry entry (display name ``fc-<model>``) gets the new
version (``parent_model``); the first version creates it. The version is
deployed to the model's endpoint (made by ``pulumi up``) at the first canary
weight, the stable model keeping the rest; on an empty endpoint it takes 100 %.
From there the canary controller moves traffic. A second candidate is not
deployed while a rollout is under way (two models on the endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.cloud.rollout import find_endpoint, quoted
from pipelines.cloud.vertex import SERVING_IMAGE, CloudTarget
from pipelines.config.errors import FullcycleError


@dataclass(frozen=True)
class Deployment:
    model: str  # the registry resource name, projects/../models/ID
    version_id: str
    deployed_model_id: str | None
    traffic_split: dict[str, int]
    note: str


def deploy_version(target: CloudTarget, artifact_uri: str, version: str,
                   credentials=None) -> Deployment:
    """Uploads ``artifact_uri`` as a new version and deploys it at the first canary weight."""
    from google.cloud import aiplatform

    where = {"project": target.project, "location": target.region, "credentials": credentials}
    endpoint = find_endpoint(target, credentials)
    display_name = target.endpoint  # fc-<model>: the registry entry is named like the endpoint
    deployed = list(endpoint.gca_resource.deployed_models)
    if len(deployed) > 1:
        raise FullcycleError(f"endpoint {target.endpoint!r} already serves {len(deployed)} "
                             "models: a rollout is under way; the new version waits for it")
    existing = aiplatform.Model.list(filter=f'display_name="{quoted(display_name)}"', **where)
    model = aiplatform.Model.upload(
        display_name=display_name, artifact_uri=artifact_uri,
        serving_container_image_uri=SERVING_IMAGE.format(
            region_prefix=target.region.split("-")[0]),
        parent_model=existing[0].resource_name if existing else None,
        is_default_version=not existing, version_aliases=[f"v{version}"],
        version_description=f"fullcycle push {version}", labels=target.labels, sync=True,
        **where)
    traffic = target.first_canary_weight if deployed else 100
    model.deploy(endpoint=endpoint, deployed_model_display_name=f"{display_name}-v{version}",
                 traffic_percentage=traffic, machine_type=target.machine_type,
                 min_replica_count=target.min_replicas, max_replica_count=target.max_replicas,
                 sync=True)
    endpoint = aiplatform.Endpoint(endpoint.resource_name, **where)
    split = dict(endpoint.traffic_split)
    new = [d.id for d in endpoint.gca_resource.deployed_models
           if d.id not in {old.id for old in deployed}]
    return Deployment(model=model.resource_name, version_id=model.version_id,
                      deployed_model_id=new[0] if new else None, traffic_split=split,
                      note=("first version: 100 % of traffic" if not deployed else
                            f"canary at {traffic} %; the controller takes it from here"))
