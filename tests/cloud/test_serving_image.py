"""The prediction container Vertex AI serves a pushed model with is one Google publishes,
and its TensorFlow minor is the exporting one (the lock's, which the Trainer and the
InfraValidator use) or, while Google publishes none for it, the one just before."""

import re
from importlib.metadata import version

from pipelines.cloud.target import SERVING_TF_VERSION, CloudTarget
from pipelines.stack.config import PROJECT_ROOT
from tests.support.stacks import stack


def _minor(full: str) -> str:
    return ".".join(full.split(".")[:2])


def _minor_number(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def test_prediction_container_tf_is_the_exporting_tf_or_one_minor_behind():
    locked = re.search(r'\nname = "tensorflow"\nversion = "([^"]+)"',
                       (PROJECT_ROOT / "uv.lock").read_text())
    assert locked, "tensorflow is not in uv.lock"
    exported = _minor_number(_minor(locked.group(1)))
    assert exported == _minor_number(_minor(version("tensorflow")))
    served = _minor_number(SERVING_TF_VERSION)
    assert served[0] == exported[0] and exported[1] - 1 <= served[1] <= exported[1], \
        f"prediction container TF {SERVING_TF_VERSION} for models exported with {exported}"


def test_prediction_container_is_one_google_publishes():
    """The SDK's list of Vertex AI's prebuilt prediction containers holds the image in
    every registry a region maps to (an image that does not exist fails every deploy)."""
    from google.cloud.aiplatform.constants import prediction

    for region in ("europe-west4", "us-central1", "asia-northeast1", "northamerica-northeast1",
                   "australia-southeast1", "me-west1", "southamerica-east1"):
        models = stack([{"name": "taxi_tips"}], **{"gcp:region": region})
        target = CloudTarget.of(models, "taxi_tips")
        assert target.serving_image in prediction.SERVING_CONTAINER_URIS, target.serving_image
    target = CloudTarget.of(stack([{"name": "taxi_tips"}]), "taxi_tips")
    assert target.serving_image == ("europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu."
                                    f"{SERVING_TF_VERSION.replace('.', '-')}:latest")
