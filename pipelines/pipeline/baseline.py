"""A model's baseline: the statistics, schema and model of its last blessed run.

The BaselineRecorder (a pipeline component after the Evaluator) copies a blessed
run's statistics, inferred schema and trained model under
``<baseline root>/<version>/`` and then points ``<baseline root>/baseline.json`` at
them, so the baseline moves only when a run is blessed, and a reader sees the old
baseline or the new one, never half of one. The root is a local directory
(``.fullcycle/baselines/<model>``) or the model's bucket (``gs://<bucket>/baselines/``,
which no lifecycle rule ages out); the next run's pipeline imports the baseline's
artifacts explicitly (TFX ``Importer``), not through a resolver, so they outlive
the run's ``pipeline_root``.
"""

import json
import os
import time
from dataclasses import asdict, dataclass

from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleStatistics, Model, ModelBlessing, Schema

BASELINE_FILE = "baseline.json"


@dataclass(frozen=True)
class Baseline:
    """Where the baseline's artifacts are, and which run they came from."""

    version: str
    recorded_at: float
    statistics_uri: str
    schema_uri: str
    split_names: str  # as ExampleStatistics artifacts hold it: '["eval", "train"]'
    source: str  # the blessed run's statistics artifact
    model_uri: str = ""  # the blessed model (a Model artifact's folder); "" in older records

    def as_dict(self) -> dict:
        return asdict(self)


def read_baseline(root: str) -> Baseline | None:
    """The baseline recorded under ``root``; None when no run was blessed yet."""
    import tensorflow as tf

    path = os.path.join(root, BASELINE_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return Baseline(**json.load(f))


def _copy_tree(source: str, target: str) -> None:
    """Copies every file under ``source`` to the same place under ``target``.

    Both may be ``gs://`` URIs: paths are joined as strings (``os.path.normpath``
    would collapse ``gs://b/x`` to ``gs:/b/x``, a local folder TensorFlow writes to
    without complaint).
    """
    import tensorflow as tf

    source = source.rstrip("/")
    for directory, _, files in tf.io.gfile.walk(source):
        relative = directory.rstrip("/")[len(source):].strip("/")
        destination = f"{target.rstrip('/')}/{relative}" if relative else target
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(f"{directory.rstrip('/')}/{name}", f"{destination.rstrip('/')}/{name}",
                             overwrite=True)


def record_baseline(root: str, statistics_uri: str, schema_uri: str, split_names: str,
                    now: float | None = None, model_uri: str | None = None) -> Baseline:
    """Copies a blessed run's statistics, schema and (given ``model_uri``) model under
    ``root`` and makes them the baseline."""
    import tensorflow as tf

    now = time.time() if now is None else now
    version = f"{int(now * 1000)}"
    target = os.path.join(root, version)
    _copy_tree(statistics_uri, os.path.join(target, "statistics"))
    _copy_tree(schema_uri, os.path.join(target, "schema"))
    if model_uri:
        _copy_tree(model_uri, os.path.join(target, "model"))
    baseline = Baseline(version=version, recorded_at=now,
                        statistics_uri=os.path.join(target, "statistics"),
                        schema_uri=os.path.join(target, "schema"), split_names=split_names,
                        source=statistics_uri,
                        model_uri=os.path.join(target, "model") if model_uri else "")
    pointer = os.path.join(root, BASELINE_FILE)
    with tf.io.gfile.GFile(pointer + ".tmp", "w") as f:
        json.dump(baseline.as_dict(), f, indent=1)
    tf.io.gfile.rename(pointer + ".tmp", pointer, overwrite=True)
    return baseline


@component
def BaselineRecorder(  # noqa: N802 - TFX components are named like classes
    statistics: InputArtifact[ExampleStatistics],
    schema: InputArtifact[Schema],
    blessing: InputArtifact[ModelBlessing],
    model: InputArtifact[Model],
    baseline_root: Parameter[str],
) -> None:
    """Makes this run's data and model the baseline when the Evaluator blessed the model."""
    if blessing.get_int_custom_property("blessed") == 1:
        record_baseline(baseline_root, statistics.uri, schema.uri, statistics.split_names,
                        model_uri=model.uri)


def read_schema(schema_uri: str):
    """The schema proto in a Schema artifact's directory."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    return io_utils.parse_pbtxt_file(io_utils.get_only_uri_in_dir(schema_uri),
                                     schema_pb2.Schema())


def load_baseline_schema(workspace, model: str):
    """(baseline, schema proto) of ``model``'s local baseline; a clear error when none exists."""
    from pipelines.config.errors import FullcycleError
    from pipelines.config.registry import model_dir

    model_dir(model)
    baseline = read_baseline(str(workspace.baseline_dir(model)))
    if baseline is None:
        raise FullcycleError(f"model {model!r} has no baseline yet: its first blessed run "
                             f"records one (`fullcycle run {model}`)")
    return baseline, read_schema(baseline.schema_uri)


def export_schema(model: str, schema, force: bool = False):
    """Writes ``schema`` to the model folder's ``schema.pbtxt``; returns the path."""
    from google.protobuf import text_format

    from pipelines.config.errors import FullcycleError
    from pipelines.config.registry import model_dir

    path = model_dir(model) / "schema.pbtxt"
    if path.exists() and not force:
        raise FullcycleError(f"{path} already exists (a curated schema); --force replaces it")
    path.write_text(text_format.MessageToString(schema))
    return path
