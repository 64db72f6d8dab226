"""The prediction container Vertex AI serves a pushed model with runs the TensorFlow minor
the model was exported with (the lock's, which the Trainer and the InfraValidator use)."""

import re
from importlib.metadata import version

from pipelines.cloud.target import SERVING_TF_VERSION, CloudTarget
from pipelines.stack.config import PROJECT_ROOT
from tests.support.stacks import stack


def _minor(full: str) -> str:
    return ".".join(full.split(".")[:2])


def test_prediction_container_tf_matches_the_exporting_tf():
    locked = re.search(r'\nname = "tensorflow"\nversion = "([^"]+)"',
                       (PROJECT_ROOT / "uv.lock").read_text())
    assert locked, "tensorflow is not in uv.lock"
    assert SERVING_TF_VERSION == _minor(locked.group(1)) == _minor(version("tensorflow"))
    target = CloudTarget.of(stack([{"name": "taxi_tips"}]), "taxi_tips")
    assert target.serving_image == ("europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu."
                                    f"{SERVING_TF_VERSION.replace('.', '-')}:latest")
