"""The InfraValidator component's requests: eval-split examples, label dropped."""

import pytest
import tensorflow as tf

from pipelines.pipeline.infra_validator import example_requests


def test_requests_are_eval_examples_without_the_label(tmp_path):
    split = tmp_path / "Split-eval"
    split.mkdir()
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for i in range(5):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"])),
                "seq": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2])),
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[9.0])),
            })).SerializeToString())
    batches = example_requests(str(tmp_path), "eval", "label", requests=2, batch_size=2)
    assert batches == [[{"x": 0.0, "name": "a", "seq": [1, 2]},
                        {"x": 1.0, "name": "a", "seq": [1, 2]}],
                       [{"x": 2.0, "name": "a", "seq": [1, 2]},
                        {"x": 3.0, "name": "a", "seq": [1, 2]}]]
    with pytest.raises(ValueError, match="no examples in split 'train'"):
        example_requests(str(tmp_path), "train", "label", 1, 1)


def test_the_check_ahead_sends_the_infra_validators_own_job(workspace, tmp_path, monkeypatch):
    from tfx.orchestration.portable import data_types
    from tfx.types import standard_artifacts

    from pipelines.config import load_config
    from pipelines.pipeline.local import build_local_pipeline, infra_check_ahead
    from pipelines.serving import infra_check

    config = load_config("basic_template")
    hook = infra_check_ahead(build_local_pipeline(config, workspace))
    examples = tmp_path / "examples"
    split = examples / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for i in range(200):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                config.label_key: tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])),
            })).SerializeToString())
    sent = []
    monkeypatch.setattr(infra_check, "has_waiting", lambda: True)
    monkeypatch.setattr(infra_check, "check_ahead", lambda *job: sent.append(job))

    def launched(node_id, key, uri):
        artifact = (standard_artifacts.Model if key == "model" else standard_artifacts.Examples)()
        artifact.uri = uri
        hook(node_id, data_types.ExecutionInfo(output_dict={key: [artifact]}))

    launched("DuckDBExampleGen", "examples", str(examples))
    hook("Transform", None)  # a cached or system node returns no execution info
    assert sent == []  # no model yet
    launched("Trainer", "model", str(tmp_path / "model"))
    check = config.infra_validation
    assert sent == [(str(tmp_path / "model" / "Format-Serving"),
                     example_requests(str(examples), "eval", config.label_key, check.requests,
                                      check.batch_size),
                     check.max_latency_ms)]
    launched("Trainer", "examples", str(examples))  # another node's same-named output
    assert len(sent) == 1

    def fails(*job):
        raise OSError("No space left on device")

    monkeypatch.setattr(infra_check, "check_ahead", fails)
    launched("Trainer", "model", str(tmp_path / "model2"))  # a head start that fails: no error
