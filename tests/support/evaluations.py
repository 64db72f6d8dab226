"""Real TFMA evaluations of stored predictions (TFMA's model-agnostic mode), in seconds.

The model config's own eval config is used, only told to read each example's
``prediction`` feature instead of running a model.
"""

from pathlib import Path

import tensorflow as tf
import tensorflow_model_analysis as tfma

from pipelines.pipeline.eval_config import build_eval_config


def _feature(value) -> tf.train.Feature:
    if isinstance(value, str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    if isinstance(value, int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def write_examples(path: Path, rows: list[dict]) -> str:
    """tf.Examples of ``rows`` (a None value leaves the feature out)."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in rows:
            feature = {k: _feature(v) for k, v in row.items() if v is not None}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    return str(path)


def evaluate_predictions(tmp_path: Path, config, rows: list[dict]) -> str:
    """Runs the Evaluator's TFMA config of ``config`` on ``rows``; returns the output dir."""
    eval_config = build_eval_config(config)
    eval_config.model_specs[0].ClearField("signature_name")
    eval_config.model_specs[0].prediction_key = "prediction"
    output = str(tmp_path / "evaluation")
    tfma.run_model_analysis(eval_config=eval_config, output_path=output,
                            data_location=write_examples(tmp_path / "eval.tfrecord", rows))
    return output
