"""Artifact URIs stay URIs: the InfraValidator, the BaselineRecorder and the data gate on a
non-local filesystem.

TensorFlow's built-in ``ram://`` filesystem stands in for ``gs://``: ``tf.io.gfile``
and SavedModel save/load work on it, and ``pathlib.Path`` / ``os.path.normpath``
collapse ``ram://b/x`` to ``ram:/b/x`` exactly as they collapse ``gs://b/x`` to
``gs:/b/x`` (a local folder TensorFlow would write to or fail to find). Each test
fails on code that puts an artifact URI through either.
"""

import json
import os
import uuid
from pathlib import Path

import pytest
import tensorflow as tf

from pipelines.pipeline.baseline import read_baseline, record_baseline
from pipelines.pipeline.gate import anomaly_problems
from pipelines.serving.infra_check import check
from tests.support.models import constant_model

REQUESTS = [[{"x": 1.0}, {"x": 2.0}]] * 3


@pytest.fixture
def bucket() -> str:
    """A fresh ``ram://`` prefix, as a ``gs://<bucket>`` would be."""
    return f"ram://fc-test-{uuid.uuid4().hex[:8]}"


def _write(uri: str, content: bytes | str) -> None:
    tf.io.gfile.makedirs(uri.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(uri, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)


def test_the_uri_stand_in_collapses_as_gs_does():
    """The premise: Path() breaks ram:// URIs as it breaks gs:// ones."""
    assert str(Path("ram://b/x")) == "ram:/b/x" and str(Path("gs://b/x")) == "gs:/b/x"


def test_infra_check_loads_and_queries_a_model_under_a_uri(bucket):
    model_dir = constant_model(f"{bucket}/Format-Serving", 1.0)
    result = check(model_dir, REQUESTS, max_latency_ms=10_000)
    assert result["blessed"] is True and result["requests"] == 3, result


def test_infra_check_reads_the_serving_info_under_a_uri(bucket):
    """``assets.extra/serving.json`` says x may be missing: a request without x is answered."""
    model_dir = constant_model(f"{bucket}/Format-Serving", 2.0)
    _write(f"{model_dir}/assets.extra/serving.json",
           json.dumps({"features": {"x": {"optional": True}}}))
    result = check(model_dir, [[{"x": None}, {}]], max_latency_ms=10_000)
    assert result["blessed"] is True, result


def test_baseline_is_copied_and_recorded_under_a_uri(bucket):
    statistics = f"{bucket}/pipeline_root/StatisticsGen/statistics/7"
    schema = f"{bucket}/pipeline_root/SchemaGen/schema/8"
    _write(f"{statistics}/Split-train/FeatureStats.pb", b"train stats")
    _write(f"{statistics}/Split-eval/FeatureStats.pb", b"eval stats")
    _write(f"{schema}/schema.pbtxt", "feature {}")
    root = f"{bucket}/baselines"

    baseline = record_baseline(root, statistics, schema, '["eval", "train"]', now=1.5)

    assert baseline.statistics_uri == f"{root}/1500/statistics"
    assert read_baseline(root) == baseline
    with tf.io.gfile.GFile(f"{baseline.statistics_uri}/Split-train/FeatureStats.pb", "rb") as f:
        assert f.read() == b"train stats"
    with tf.io.gfile.GFile(f"{baseline.schema_uri}/schema.pbtxt") as f:
        assert f.read() == "feature {}"
    assert sorted(tf.io.gfile.listdir(baseline.statistics_uri)) == ["Split-eval", "Split-train"]
    assert not os.path.exists("ram:")  # nothing landed in a local "ram:" folder


def test_the_data_gate_reads_anomalies_under_a_uri(bucket):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["fare"]
    info.short_description, info.description = "Out-of-range values", "fare < 0"
    _write(f"{bucket}/anomalies/Split-eval/SchemaDiff.pb", anomalies.SerializeToString())
    assert anomaly_problems(f"{bucket}/anomalies", ["eval", "train"]) == [
        ("eval", "fare", "Out-of-range values - fare < 0")]
