"""The local StatisticsGen executor gives TFX's statistics without a Beam pipeline."""

import math
import os

import pytest
from google.protobuf.json_format import MessageToDict
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from pipelines.data.example_gen import write_split_files
from pipelines.pipeline.statistics import Executor, runs_in_process

SPLITS = {
    # every kind of column, NULLs and lists included; many shards
    "train": ("SELECT *, [trip_miles, fare] AS pair, NULL::VARCHAR AS never "
              "FROM taxi_trips ORDER BY trip_id", 1000),
    "eval": ("SELECT * FROM basic_template ORDER BY id", 50_000),
    "empty": ("SELECT * FROM basic_template WHERE id < 0", 50_000),
}


# Quantiles come from a sketch whose merges follow the batches: Beam's bundles differ
# from ours (and among Beam's own runs with workers). TFDV's sketch keeps rank error
# under 1 %; medians and histogram bounds may move by that, the rest must not.
SKETCHED = ("median", "lowValue", "highValue", "sampleCount")
RANK_ERROR = 0.01


def _close(a, b, path="", scale=None):
    """Where two statistics (as dicts) differ beyond rounding (or the quantile sketch's error).

    ``scale`` is (value range, example count) of the numeric feature under ``path``.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: fields {sorted(set(a) ^ set(b))}"]
        if "numStats" in b and "commonStats" in b["numStats"]:
            stats = b["numStats"]
            scale = (float(stats.get("max", 0)) - float(stats.get("min", 0)),
                     float(stats["commonStats"].get("numNonMissing", 0)))
        return [d for key in a for d in _close(a[key], b[key], f"{path}.{key}", scale)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} against {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _close(x, y, f"{path}[{i}]", scale)]
    field = path.rsplit(".", 1)[-1]
    if scale and field in SKETCHED and ("histograms" in path or field == "median"):
        bound = RANK_ERROR * (scale[1] if field == "sampleCount" else scale[0])
        return [] if abs(float(a) - float(b)) <= bound else [f"{path}: {a} {b}"]
    if isinstance(a, float) or isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} {b}"]
    return [] if a == b else [f"{path}: {a!r} {b!r}"]


@pytest.fixture(scope="module")
def examples(seeded_warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("examples")
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(list(SPLITS))
    examples_utils.set_payload_format(artifact, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    rows = {split: write_split_files(query, str(seeded_warehouse),
                                     os.path.join(root, f"Split-{split}"), shard_rows)
            for split, (query, shard_rows) in SPLITS.items()}
    return artifact, rows


def _run(executor_class, examples, out):
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(out)
    context = BaseBeamExecutor.Context(beam_pipeline_args=[], tmp_dir=str(out / "tmp"))
    executor_class(context).Do({"examples": [examples]}, {"statistics": [statistics]}, {})
    protos = {}
    for split in SPLITS:
        proto = statistics_pb2.DatasetFeatureStatisticsList()
        path = os.path.join(artifact_utils.get_split_uri([statistics], split),
                            tfx_executor.DEFAULT_FILE_NAME)
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
        protos[split] = proto
    return statistics, protos


def test_statistics_equal_tfx_beam_executors(examples, tmp_path):
    examples, rows = examples
    ours, ours_protos = _run(Executor, examples, tmp_path / "ours")
    theirs, their_protos = _run(tfx_executor.Executor, examples, tmp_path / "tfx")
    for split in SPLITS:
        assert _close(MessageToDict(ours_protos[split]), MessageToDict(their_protos[split])) == []
    assert {split: proto.datasets[0].num_examples for split, proto in ours_protos.items()} == {
        **rows, "empty": 0}
    assert rows["train"] > 10_000
    assert ours.split_names == theirs.split_names
    assert ours.span == theirs.span
    assert (ours.get_custom_property(tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME)
            == theirs.get_custom_property(tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME))


def test_other_runners_and_options_run_tfx_executor(examples):
    examples, _ = examples
    assert runs_in_process([], {"examples": [examples]}, {})
    assert runs_in_process(["--direct_num_workers=2", "--runner=DirectRunner"],
                           {"examples": [examples]}, {"exclude_splits": "[]"})
    assert not runs_in_process(["--runner=DataflowRunner", "--project=p"],
                               {"examples": [examples]}, {})
    assert not runs_in_process([], {"examples": [examples]}, {"exclude_splits": '["eval"]'})
    assert not runs_in_process([], {"examples": [examples], "schema": [object()]}, {})
    assert not runs_in_process([], {"examples": [examples]},
                               {"stats_options_json": '{"sample_rate": 0.5}'})
