"""Nothing the next run compares with ages out: the Evaluator's baseline model on Vertex AI.

The bucket's lifecycle rule deletes ``pipeline_root/`` after 90 days, and with it
the model ML Metadata's latest-blessed resolver would return. On Vertex AI the
Evaluator's baseline is the model the BaselineRecorder kept under ``baselines/``
(imported explicitly); with no recorded model, the rule is explicit: the
candidate is judged by the value thresholds alone, as on a first run.
TensorFlow's ``ram://`` filesystem stands in for the bucket.
"""

import uuid

import pytest
import tensorflow as tf
from tfx.utils import path_utils

from infra.components.model_platform import AGING_PREFIXES
from pipelines.cloud.compile import build_vertex_pipeline, compile_pipeline
from pipelines.cloud.target import CloudTarget
from pipelines.config import load_config
from pipelines.pipeline.baseline import read_baseline, record_baseline
from pipelines.stack.names import BASELINE_PREFIX
from tests.support.models import constant_model


def _write(uri: str, content: bytes) -> None:
    tf.io.gfile.makedirs(uri.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(uri, "wb") as f:
        f.write(content)


@pytest.fixture
def bucket():
    """A blessed run's artifacts under pipeline_root/, recorded as the baseline."""
    root = f"ram://fc-{uuid.uuid4().hex[:8]}"
    run = f"{root}/pipeline_root/fullcycle-basic-template-1"
    _write(f"{run}/StatisticsGen/statistics/3/Split-train/FeatureStats.pb", b"stats")
    _write(f"{run}/SchemaGen/schema/4/schema.pbtxt", b"")
    constant_model(f"{run}/Trainer/model/5/Format-Serving", 3.0)
    record_baseline(f"{root}/baselines", f"{run}/StatisticsGen/statistics/3",
                    f"{run}/SchemaGen/schema/4", '["train"]', model_uri=f"{run}/Trainer/model/5")
    return root


def _by_id(pipeline) -> dict:
    return {c.id: c for c in pipeline.components}


def test_the_evaluator_finds_its_baseline_after_pipeline_root_is_deleted(bucket):
    assert "pipeline_root/" in AGING_PREFIXES and BASELINE_PREFIX not in AGING_PREFIXES
    tf.io.gfile.rmtree(f"{bucket}/pipeline_root")  # the 90-day rule ran

    baseline = read_baseline(f"{bucket}/baselines")
    assert baseline.model_uri.startswith(f"{bucket}/baselines/")
    target = CloudTarget.from_stack("basic_template", "dev")
    components = _by_id(build_vertex_pipeline(load_config("basic_template"), target, baseline))
    imported = components["baseline_model"]
    assert components["Evaluator"].inputs["baseline_model"] is imported.outputs["result"]
    assert imported.exec_properties["artifact_uri"] == baseline.model_uri
    assert "latest_blessed_model_resolver" not in components
    # the path the Evaluator loads the baseline from (TFX's), and what it serves
    model = tf.saved_model.load(path_utils.eval_model_path(baseline.model_uri))
    assert model.signatures["serving_default"](x=tf.constant([1.0]))["outputs"].numpy()[0] == 3.0


def test_the_compiled_run_imports_the_recorded_model(bucket):
    baseline = read_baseline(f"{bucket}/baselines")
    target = CloudTarget.from_stack("basic_template", "dev")
    spec = compile_pipeline(load_config("basic_template"), target, baseline=baseline)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "baseline_model" in tasks and "latest_blessed_model_resolver" not in tasks
    assert baseline.model_uri in str(spec["pipelineSpec"]["deploymentSpec"]["executors"])
    evaluator = tasks["Evaluator"]["inputs"]["artifacts"]["baseline_model"]
    assert evaluator["taskOutputArtifact"]["producerTask"] == "baseline_model"


def test_without_a_recorded_model_the_thresholds_alone_decide():
    """The first run, or a baseline recorded before models were: no baseline model at all
    (the Evaluator skips change thresholds, as on a first run), never an aged-out one."""
    target = CloudTarget.from_stack("basic_template", "dev")
    components = _by_id(build_vertex_pipeline(load_config("basic_template"), target, None))
    assert "baseline_model" not in components["Evaluator"].inputs
    assert "latest_blessed_model_resolver" not in components
