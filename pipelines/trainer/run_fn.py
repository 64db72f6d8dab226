"""The Trainer's ``run_fn``: trains the model named in ``custom_config`` and exports it.

Referenced by dotted path (``pipelines.trainer.run_fn.run_fn``), so no module
file is packaged into a wheel and pip-installed at run time.
"""

from __future__ import annotations

import json
import os
import time

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from pipelines.config.model_config import ModelConfig
from pipelines.config.registry import custom_model_module, load_config, with_overrides
from pipelines.features.naming import transformed_name
from pipelines.trainer.builders import as_model_inputs, build_keras_model
from pipelines.trainer.signatures import make_signatures, write_serving_info


def config_from_custom_config(custom_config: dict) -> ModelConfig:
    """The model config a component was given: name plus any run overrides."""
    config = load_config(custom_config["model"])
    if custom_config.get("overrides"):
        config = with_overrides(config, **custom_config["overrides"])
    return config


IN_MEMORY_RECORDS = 1_000_000


def input_dataset(file_pattern: list[str], data_accessor: DataAccessor,
                  tf_transform_output: tft.TFTransformOutput, config: ModelConfig,
                  batch_size: int, num_epochs: int | None,
                  keep_in_memory: bool = False) -> tf.data.Dataset:
    """Batches of (transformed features, label), shuffled with the config's seed.

    ``num_epochs=1`` gives one epoch of a known number of batches (Keras then runs
    several steps per call). With ``keep_in_memory``, a split of up to
    ``IN_MEMORY_RECORDS`` dense examples is read from disk once and kept as
    serialized records, then shuffled, batched and parsed each epoch as TFX's
    reader does: re-opening and decompressing the files was most of a small
    model's epoch.
    """
    label = transformed_name(config.label_key)
    spec = tf_transform_output.transformed_feature_spec()
    records = count_records(file_pattern) if num_epochs == 1 else None
    if keep_in_memory and records is not None and records <= IN_MEMORY_RECORDS \
            and all(isinstance(f, tf.io.FixedLenFeature) for f in spec.values()):
        files = sorted(f for pattern in file_pattern for f in tf.io.gfile.glob(pattern))
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size)

        def parse(serialized):
            features = tf.io.parse_example(serialized, spec)
            return features, features.pop(label)

        dataset = (tf.data.TFRecordDataset(files, _compression(files)).cache()
                   .shuffle(options.shuffle_buffer_size, seed=config.seed)
                   .batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
                   .prefetch(tf.data.AUTOTUNE))
    else:
        dataset = data_accessor.tf_dataset_factory(
            file_pattern,
            tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label,
                                           num_epochs=num_epochs, shuffle_seed=config.seed),
            tf_transform_output.transformed_metadata.schema)
    dataset = dataset.map(lambda features, y: (as_model_inputs(features), y))
    if records is not None:
        # assert_cardinality also checks the count as the data is read.
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(-(-records // batch_size)))
    return dataset


def _compression(files: list[str]) -> str:
    """TFX writes gzipped TFRecords (``.gz``); plain ones are read as they are."""
    return "GZIP" if files and all(f.endswith(".gz") for f in files) else ""


def count_records(file_pattern: list[str]) -> int:
    """Records in the TFRecord files matching ``file_pattern`` (read, not parsed)."""
    files = sorted(f for pattern in file_pattern for f in tf.io.gfile.glob(pattern))
    if not files:
        return 0
    records = tf.data.TFRecordDataset(files, _compression(files),
                                      num_parallel_reads=tf.data.AUTOTUNE)
    return int(records.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


HISTORY_FILE = "history.json"


def training_epochs(train_steps: int, most: int = 10) -> int:
    """The largest count up to ``most`` that divides ``train_steps`` evenly."""
    return max(k for k in range(1, most + 1) if train_steps % k == 0)


def write_history(model_run_dir: str, history: dict, steps_per_epoch: int | None) -> None:
    """Loss and metrics per epoch (validation ones at the last epoch) for the run report."""
    final = {key: [float(v) for v in values] for key, values in history.items()}
    record = {"steps_per_epoch": steps_per_epoch, "metrics": final}
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, HISTORY_FILE), "w") as out:
        out.write(json.dumps(record))


def run_fn(fn_args: FnArgs) -> None:
    """Trains by steps (``train_steps``) or epochs (``num_epochs``) and saves a SavedModel."""
    config = config_from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    by_steps = fn_args.train_steps is not None
    train = input_dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, config,
                          config.train_batch_size, num_epochs=None if by_steps else 1,
                          keep_in_memory=True)
    evaluation = input_dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                               config, config.eval_batch_size,
                               num_epochs=None if fn_args.eval_steps else 1)
    model = build_keras_model(config, custom_model_module(config.name))
    # By steps, the one pass over the repeated data is cut into up to 10 "epochs" of
    # equal steps (the same batches and updates) so that the report has a curve.
    epochs = training_epochs(fn_args.train_steps) if by_steps else config.num_epochs
    steps_per_epoch = fn_args.train_steps // epochs if by_steps else None
    started = time.monotonic()
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=evaluation, validation_steps=fn_args.eval_steps,
                        validation_freq=[epochs],
                        verbose=2 if os.environ.get("FULLCYCLE_VERBOSE") else 0)
    logging.info("run_fn: fit took %.1f s", time.monotonic() - started)
    write_history(fn_args.model_run_dir, history.history, steps_per_epoch)
    started = time.monotonic()
    tf.saved_model.save(model, fn_args.serving_model_dir,
                        signatures=make_signatures(model, tf_transform_output, config))
    write_serving_info(fn_args.serving_model_dir, tf_transform_output, config)
    logging.info("run_fn: export took %.1f s", time.monotonic() - started)
