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
from tfx.components.trainer.fn_args_utils import FnArgs

from pipelines.config.model_config import ModelConfig
from pipelines.config.registry import custom_model_module, load_config, with_overrides
from pipelines.config.tuning import apply_hyperparameters
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
SHUFFLE_BUFFER = 10_000  # TFX's reader's default
TRANSFORM_BATCH = 1024


def input_dataset(file_pattern: list[str], tf_transform_output: tft.TFTransformOutput,
                  config: ModelConfig, batch_size: int, num_epochs: int | None,
                  keep_in_memory: bool = False,
                  transform: tf.keras.layers.Layer | None = None) -> tf.data.Dataset:
    """Batches of (transformed features, label) from the raw examples, shuffled (seeded).

    The transform graph is applied here, batch by batch, exactly as serving applies
    it: Transform writes no transformed copy of the data (``materialize=False``), so
    a run by steps transforms only the examples it trains on. ``num_epochs=1`` gives
    one epoch of a known number of batches (Keras then runs several steps per call);
    with ``keep_in_memory``, a split of up to ``IN_MEMORY_RECORDS`` examples is read
    and transformed once and kept (re-reading, decompressing and transforming the
    files was most of a small model's epoch).
    """
    files = sorted(f for pattern in file_pattern for f in tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no examples match {file_pattern}")
    spec = tf_transform_output.raw_feature_spec()
    transform = transform or tf_transform_output.transform_features_layer()
    label = transformed_name(config.label_key)

    @tf.autograph.experimental.do_not_convert  # plain graph code: nothing to convert
    def transformed(serialized):
        return dict(transform(tf.io.parse_example(serialized, spec)))

    @tf.autograph.experimental.do_not_convert
    def split_label(features):
        features = dict(features)
        y = features.pop(label)
        return as_model_inputs(features), y

    records = count_records(files) if num_epochs == 1 else None
    if keep_in_memory and records is not None and records <= IN_MEMORY_RECORDS:
        # Transformed once and kept: the transform is row by row (its analyzers' results
        # are constants), so shuffling transformed rows gives the batches shuffling raw
        # records would.
        dataset = (tf.data.TFRecordDataset(files, _compression(files))
                   .batch(TRANSFORM_BATCH).map(transformed).unbatch().cache()
                   .shuffle(SHUFFLE_BUFFER, seed=config.seed)
                   .batch(batch_size).map(split_label))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
            lambda name: tf.data.TFRecordDataset(name, _compression(files)),
            cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True).shuffle(SHUFFLE_BUFFER, seed=config.seed)
        if num_epochs != 1:
            dataset = dataset.repeat(num_epochs)
        dataset = dataset.batch(batch_size, drop_remainder=num_epochs is None).map(
            lambda serialized: split_label(transformed(serialized)),
            num_parallel_calls=tf.data.AUTOTUNE)
    if records is not None:
        # assert_cardinality also checks the count as the data is read.
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(-(-records // batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _compression(files: list[str]) -> str:
    """TFX writes gzipped TFRecords (``.gz``); plain ones are read as they are."""
    return "GZIP" if files and all(f.endswith(".gz") for f in files) else ""


def count_records(files: list[str]) -> int:
    """Records in the TFRecord ``files`` (read, not parsed)."""
    records = tf.data.TFRecordDataset(files, _compression(files),
                                      num_parallel_reads=tf.data.AUTOTUNE)
    return int(records.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


HISTORY_FILE = "history.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"


def tuned_config(config: ModelConfig, hyperparameters: dict | None,
                 model_run_dir: str) -> ModelConfig:
    """The config with the imported tuning result applied (none: as it is); what was
    applied is written to the ModelRun, for the summary and the report."""
    values = (hyperparameters or {}).get("values") or {}
    if values:
        config = apply_hyperparameters(config, values)
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, HYPERPARAMETERS_FILE), "w") as out:
        out.write(json.dumps({"tuned": bool(values), "values": values,
                              "training_args": config.training_args.model_dump(mode="json"),
                              "train_batch_size": config.train_batch_size,
                              "model_args": config.model_args}))
    return config


def training_epochs(train_steps: int, most: int = 10) -> int:
    """The largest count up to ``most`` that divides ``train_steps`` evenly."""
    return max(k for k in range(1, most + 1) if train_steps % k == 0)


def validation_points(points: int, train_examples_per_point: int,
                      eval_examples: int | None) -> list[int]:
    """The points (1-based) after which the eval split is evaluated.

    Every point, for a validation curve beside the training one (as TensorBoard
    shows), when one validation pass reads no more examples than a point trains on;
    else only the last, where a pass per point would cost more than the training.
    ``eval_examples`` is None for a whole pass over an eval split of unknown size.
    """
    if eval_examples is not None and eval_examples <= train_examples_per_point:
        return list(range(1, points + 1))
    return [points]


def write_history(model_run_dir: str, history: dict, steps_per_epoch: int | None,
                  epochs_per_point: int = 1, validated_at: list[int] | None = None) -> None:
    """Loss and metrics per point for the run report, validation ones at the points in
    ``validated_at`` (default: the last): a point is an "epoch" of ``steps_per_epoch``
    steps when training by steps, else ``epochs_per_point`` epochs."""
    final = {key: [float(v) for v in values] for key, values in history.items()}
    record = {"steps_per_epoch": steps_per_epoch, "epochs_per_point": epochs_per_point,
              "metrics": final}
    if validated_at is not None:
        record["validated_at"] = validated_at
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, HISTORY_FILE), "w") as out:
        out.write(json.dumps(record))


def run_fn(fn_args: FnArgs) -> None:
    """Trains by steps (``train_steps``) or epochs (``num_epochs``) and saves a SavedModel."""
    config = tuned_config(config_from_custom_config(fn_args.custom_config),
                          fn_args.hyperparameters, fn_args.model_run_dir)
    # Seeded before the datasets: their shuffles combine this global seed with their
    # own, and a global seed left by an earlier run in the process would change them.
    tf.keras.utils.set_random_seed(config.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    by_steps = fn_args.train_steps is not None
    transform = tf_transform_output.transform_features_layer()
    train = input_dataset(fn_args.train_files, tf_transform_output, config,
                          config.train_batch_size, num_epochs=None if by_steps else 1,
                          keep_in_memory=True, transform=transform)
    evaluation = input_dataset(fn_args.eval_files, tf_transform_output, config,
                               config.eval_batch_size,
                               num_epochs=None if fn_args.eval_steps else 1, keep_in_memory=True,
                               transform=transform)
    model = build_keras_model(config, custom_model_module(config.name))
    # Keras's fit pays for every epoch it runs (a new iterator, callbacks, metric
    # syncs): a few milliseconds each, most of a small model's training. So the data
    # is cut into up to 10 points: by steps, "epochs" of equal steps; by epochs, runs
    # of whole epochs over the repeated data, each pass reshuffled as a new epoch's
    # would be: the same batches and updates, and a curve for the report.
    if by_steps:
        points = training_epochs(fn_args.train_steps)
        steps_per_point, epochs_per_point = fn_args.train_steps // points, 1
    else:
        points = training_epochs(config.num_epochs)
        epochs_per_point = config.num_epochs // points
        steps_per_point = int(train.cardinality()) * epochs_per_point
        train = train.repeat()
    splits = config.source.splits
    eval_examples = (fn_args.eval_steps * config.eval_batch_size if fn_args.eval_steps
                     else None if by_steps  # a whole eval split of unknown size
                     else steps_per_point * config.train_batch_size * splits["eval"]
                     // (splits["train"] * epochs_per_point))  # one pass, by the split sizes
    validated_at = validation_points(points, steps_per_point * config.train_batch_size,
                                     eval_examples)
    started = time.monotonic()
    history = model.fit(train, epochs=points, steps_per_epoch=steps_per_point,
                        validation_data=evaluation, validation_steps=fn_args.eval_steps,
                        validation_freq=validated_at,
                        verbose=2 if os.environ.get("FULLCYCLE_VERBOSE") else 0)
    logging.info("run_fn: fit took %.1f s", time.monotonic() - started)
    write_history(fn_args.model_run_dir, history.history,
                  steps_per_point if by_steps else None, epochs_per_point, validated_at)
    started = time.monotonic()
    tf.saved_model.save(model, fn_args.serving_model_dir,
                        signatures=make_signatures(model, tf_transform_output, config,
                                                   transform))
    write_serving_info(fn_args.serving_model_dir, tf_transform_output, config)
    logging.info("run_fn: export took %.1f s", time.monotonic() - started)
