"""VertexPusher: the blessed, infra-validated model becomes a new Model Registry version,
deployed to the model's endpoint at the first canary weight (see ``registry.py``).

TFX's Vertex Pusher uploads a separate model each time and does not version it;
this one keeps one registry entry per model with a version per push, and uploads
the push's model card (``model_card.md``, from the evaluation and the
statistics) with the model.
"""

import json
import time

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import (
    ExampleStatistics,
    InfraBlessing,
    Model,
    ModelBlessing,
    ModelEvaluation,
    PushedModel,
)


@component
def VertexPusher(  # noqa: N802 - TFX components are named like classes
    model: InputArtifact[Model],
    model_blessing: InputArtifact[ModelBlessing],
    pushed_model: OutputArtifact[PushedModel],
    target: Parameter[str],
    infra_blessing: InputArtifact[InfraBlessing] = None,
    evaluation: InputArtifact[ModelEvaluation] = None,
    statistics: InputArtifact[ExampleStatistics] = None,
    model_config: Parameter[str] = "",
) -> None:
    """Pushes only when both blessings say so; otherwise records ``pushed`` = 0."""
    from tfx.utils import path_utils

    from pipelines.cloud.registry import deploy_version
    from pipelines.cloud.target import CloudTarget
    from pipelines.config.model_config import ModelConfig
    from pipelines.report.card import push_card

    blessed = model_blessing.get_int_custom_property("blessed") == 1 and (
        infra_blessing is None or infra_blessing.get_int_custom_property("blessed") == 1)
    if not blessed:
        pushed_model.set_int_custom_property("pushed", 0)
        return
    version = str(int(time.time()))
    artifact_uri = path_utils.serving_model_dir(model.uri)
    cloud = CloudTarget(**json.loads(target))
    card = None
    if model_config:
        card = push_card(ModelConfig.model_validate_json(model_config),
                         run_id=model.uri.rstrip("/").rsplit("/", 1)[-1], version=version,
                         pushed=cloud.model_uri(version),  # where deploy_version keeps it
                         evaluation_uri=evaluation and evaluation.uri,
                         statistics_uri=statistics and statistics.uri)
    deployment = deploy_version(cloud, artifact_uri, version, model_card=card)
    pushed_model.set_int_custom_property("pushed", 1)
    pushed_model.set_string_custom_property("pushed_version", version)
    pushed_model.set_string_custom_property(
        "pushed_destination", f"{deployment.model}@{deployment.version_id}")
    pushed_model.set_string_custom_property("deployment", json.dumps({
        "deployed_model_id": deployment.deployed_model_id,
        "traffic_split": deployment.traffic_split, "note": deployment.note}))
