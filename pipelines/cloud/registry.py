"""Deployment to Vertex AI: a blessed model becomes a new version and a canary on the endpoint.

The model's Model Registry entry (display name ``fc-<model>``) gets the new
version (``parent_model``); the first version creates it. The version is
deployed to the model's endpoint (made by ``pulumi up``) with the shared
:func:`~pipelines.canary.policy.first_traffic_split`: at the first canary weight
next to the stable model, 100 % on an empty endpoint, and not while a rollout
is under way. From there the canary controller moves traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.canary.policy import NEW_MODEL, RolloutUnderWayError, first_traffic_split
from pipelines.cloud.endpoint import VertexEndpoint
from pipelines.cloud.google_api import google_errors, quoted
from pipelines.cloud.target import CloudTarget


@dataclass(frozen=True)
class Deployment:
    model: str  # the registry resource name, projects/../models/ID
    version_id: str
    deployed_model_id: str | None
    traffic_split: dict[str, int]
    note: str


def deploy_version(target: CloudTarget, artifact_uri: str, version: str,
                   credentials=None, model_card: str | None = None) -> Deployment:
    """Uploads ``artifact_uri`` as a new version and deploys it at the first canary weight;
    ``model_card`` (Markdown) is written into ``artifact_uri`` first, uploaded with it."""
    from google.cloud import aiplatform

    where = {"project": target.project, "location": target.region, "credentials": credentials}
    endpoint = VertexEndpoint(target, credentials)
    deployed = [m["id"] for m in endpoint.describe()["deployedModels"]]
    try:
        split = first_traffic_split(deployed, target.first_canary_weight)
    except RolloutUnderWayError as err:  # checked before anything is uploaded
        raise RolloutUnderWayError(f"endpoint {target.endpoint!r}: {err}") from None
    if model_card is not None:
        _write_card(target, artifact_uri, model_card, credentials)
    display_name = target.endpoint  # fc-<model>: the registry entry is named like the endpoint
    with google_errors(f"uploading version {version} of {display_name!r}"):
        existing = aiplatform.Model.list(filter=f'display_name="{quoted(display_name)}"',
                                         **where)
        model = aiplatform.Model.upload(
            display_name=display_name, artifact_uri=artifact_uri,
            serving_container_image_uri=target.serving_image,
            parent_model=existing[0].resource_name if existing else None,
            is_default_version=not existing, version_aliases=[f"v{version}"],
            version_description=f"fullcycle push {version}", labels=target.labels, sync=True,
            **where)
    deployed_id = endpoint.deploy(f"{model.resource_name}@{model.version_id}", split,
                                  display_name=f"{display_name}-v{version}")
    traffic = split[NEW_MODEL]
    return Deployment(model=model.resource_name, version_id=model.version_id,
                      deployed_model_id=deployed_id,
                      traffic_split=endpoint.describe()["trafficSplit"],
                      note=("first version: 100 % of traffic" if not deployed else
                            f"canary at {traffic} %; the controller takes it from here"))


def _write_card(target: CloudTarget, artifact_uri: str, text: str, credentials) -> None:
    """``model_card.md`` beside the SavedModel at ``artifact_uri`` (a gs:// folder)."""
    from google.cloud import aiplatform, storage

    from pipelines.report.render import MODEL_CARD_FILE

    # The credentials the Vertex AI client uses (the pipeline's service account on Vertex).
    credentials = credentials or aiplatform.initializer.global_config.credentials
    bucket, _, prefix = artifact_uri.removeprefix("gs://").partition("/")
    name = f"{prefix.rstrip('/')}/{MODEL_CARD_FILE}".lstrip("/")
    with google_errors(f"writing the model card to gs://{bucket}/{name}"):
        storage.Client(project=target.project, credentials=credentials).bucket(bucket) \
            .blob(name).upload_from_string(text, content_type="text/markdown")
