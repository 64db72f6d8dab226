"""Deployment to Vertex AI: a blessed model becomes a new version and a canary on the endpoint.

The pushed SavedModel is first copied (server-side) from the run's artifacts to
``gs://<bucket>/models/<version>/``, a prefix no lifecycle rule ages out: the
registry version and every endpoint that serves it point there, not into
``pipeline_root/`` (deleted after 90 days). The model's Model Registry entry
(display name ``fc-<model>``) gets the new version (``parent_model``); the first
version creates it. The version is
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
from pipelines.config.errors import FullcycleError


@dataclass(frozen=True)
class Deployment:
    model: str  # the registry resource name, projects/../models/ID
    version_id: str
    deployed_model_id: str | None
    traffic_split: dict[str, int]
    note: str


def deploy_version(target: CloudTarget, artifact_uri: str, version: str,
                   credentials=None, model_card: str | None = None) -> Deployment:
    """Keeps the SavedModel at ``artifact_uri`` as ``models/<version>/``, uploads that as a
    new version and deploys it at the first canary weight; ``model_card`` (Markdown) is
    written beside the kept model first, uploaded with it."""
    from google.cloud import aiplatform

    where = {"project": target.project, "location": target.region, "credentials": credentials}
    endpoint = VertexEndpoint(target, credentials)
    deployed = [m["id"] for m in endpoint.describe()["deployedModels"]]
    try:
        split = first_traffic_split(deployed, target.first_canary_weight)
    except RolloutUnderWayError as err:  # checked before anything is uploaded
        raise FullcycleError(f"endpoint {target.endpoint!r}: {err}") from None
    artifact_uri = keep_model(target, artifact_uri, version, credentials)
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


def _storage(target: CloudTarget, credentials):
    from google.cloud import aiplatform, storage

    # The credentials the Vertex AI client uses (the pipeline's service account on Vertex).
    credentials = credentials or aiplatform.initializer.global_config.credentials
    return storage.Client(project=target.project, credentials=credentials)


def _split_uri(uri: str) -> tuple[str, str]:
    """(bucket, object prefix ending in '/') of a gs:// folder."""
    if not uri.startswith("gs://"):
        raise FullcycleError(f"model artifacts {uri!r} are not a gs:// folder")
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    return bucket, f"{prefix.strip('/')}/" if prefix.strip("/") else ""


def keep_model(target: CloudTarget, artifact_uri: str, version: str, credentials=None) -> str:
    """Copies every object of the SavedModel folder ``artifact_uri`` to
    ``target.model_uri(version)`` inside GCS (rewrites: nothing passes through this
    container) and returns that folder. Repeating it rewrites the same objects."""
    destination = target.model_uri(version)
    if artifact_uri.rstrip("/") == destination:
        return destination
    source_bucket, source_prefix = _split_uri(artifact_uri)
    _, target_prefix = _split_uri(destination)
    client = _storage(target, credentials)
    with google_errors(f"keeping the pushed model {artifact_uri} as {destination}"):
        blobs = list(client.list_blobs(source_bucket, prefix=source_prefix))
        if not blobs:
            raise FullcycleError(f"no SavedModel under {artifact_uri}: nothing to push")
        bucket = client.bucket(target.bucket)
        for blob in blobs:
            copy = bucket.blob(target_prefix + blob.name[len(source_prefix):])
            token, _, _ = copy.rewrite(blob)
            while token is not None:  # a large object takes several calls
                token, _, _ = copy.rewrite(blob, token=token)
    return destination


def _write_card(target: CloudTarget, artifact_uri: str, text: str, credentials) -> None:
    """``model_card.md`` beside the SavedModel at ``artifact_uri`` (a gs:// folder)."""
    from pipelines.report.render import MODEL_CARD_FILE

    bucket, prefix = _split_uri(artifact_uri)
    name = f"{prefix}{MODEL_CARD_FILE}"
    with google_errors(f"writing the model card to gs://{bucket}/{name}"):
        _storage(target, credentials).bucket(bucket).blob(name).upload_from_string(
            text, content_type="text/markdown")
