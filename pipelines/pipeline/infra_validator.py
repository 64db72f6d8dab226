"""InfraValidator: load-and-query the candidate in a separate serving process before push.

TFX's own InfraValidator needs a TF Serving binary or container and does not
run on Vertex AI Pipelines; this one runs wherever the pipeline runs (locally,
and as a Vertex step in the runner image). It takes eval-split examples as real
requests, serves the trained model in a child process exactly as the endpoint
loads it, and writes a standard ``InfraBlessing`` (``blessed`` = 1 or 0) that
the Pusher honours: a model that does not load, answers errors or NaN, or
misses the latency budget is not pushed.
"""

import json
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, InfraBlessing, Model


def example_requests(examples_uri: str, split: str, label_key: str, requests: int,
                     batch_size: int) -> list[list[dict]]:
    """Requests of ``batch_size`` instances made from the split's tf.Examples, label dropped."""
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    if not files:
        raise ValueError(f"no examples in split {split!r} under {examples_uri}")
    instances = []
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for record in dataset.take(requests * batch_size):
        example = tf.train.Example.FromString(record.numpy())
        instance = {}
        for name, feature in example.features.feature.items():
            if name == label_key:
                continue
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value) if kind else []
            values = [v.decode() if isinstance(v, bytes) else v for v in values]
            instance[name] = values[0] if len(values) == 1 else (values or None)
        instances.append(instance)
    return [instances[i:i + batch_size] for i in range(0, len(instances), batch_size)]


@component
def InfraValidator(  # noqa: N802 - TFX components are named like classes
    model: InputArtifact[Model],
    examples: InputArtifact[Examples],
    blessing: OutputArtifact[InfraBlessing],
    split: Parameter[str],
    label_key: Parameter[str],
    requests: Parameter[int],
    batch_size: Parameter[int],
    max_latency_ms: Parameter[float],
    timeout_seconds: Parameter[int],
) -> None:
    """Blesses the model only if a separate serving process loads and answers it well."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from pipelines.serving.infra_check import validate

    batches = example_requests(examples.uri, split, label_key, requests, batch_size)
    result = validate(path_utils.serving_model_dir(model.uri), batches, max_latency_ms,
                      timeout_seconds)
    blessed = bool(result.get("blessed"))
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(os.path.join(
            blessing.uri, "INFRA_BLESSED" if blessed else "INFRA_NOT_BLESSED"), "w") as marker:
        marker.write(json.dumps(result))
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_string_custom_property("result", json.dumps(result))
