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
