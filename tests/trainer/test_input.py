"""The Trainer's input: raw examples through the transform graph, every row once per epoch."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.config import ModelConfig

ROWS = 150


def _examples() -> list[bytes]:
    rng = np.random.default_rng(1)
    return [tf.train.Example(features=tf.train.Features(feature={
        "a": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.normal()])),
        "y": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
        "extra": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"not a feature"])),
    })).SerializeToString() for i in range(ROWS)]


def preprocessing_fn(inputs):
    return {"a_xf": inputs["a"] * 2.0, "y_xf": inputs["y"] + 1000.0}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Gzipped raw examples in two shards and a real tf.Transform output for them."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    from pipelines.compat import patch_beam_for_tft

    patch_beam_for_tft()
    root = tmp_path_factory.mktemp("raw")
    for shard, rows in enumerate((_examples()[:100], _examples()[100:])):
        with tf.io.TFRecordWriter(str(root / f"part-{shard}.gz"), options="GZIP") as out:
            for row in rows:
                out.write(row)
    spec = {"a": tf.io.FixedLenFeature([], tf.float32), "y": tf.io.FixedLenFeature([], tf.float32)}
    metadata = tft.DatasetMetadata.from_feature_spec(spec)
    with tft_beam.Context(temp_dir=str(root / "tmp"), force_tf_compat_v1=True), \
            beam.Pipeline() as pipeline:
        rows = pipeline | beam.Create([{"a": 0.0, "y": 1.0}])
        transform_fn = (rows, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "transform"))
    from tensorflow_transform.tf_metadata import metadata_io

    # The raw schema beside the graph, as TFX's Transform writes it.
    metadata_io.write_metadata(metadata, str(root / "transform" / "metadata"))
    return [str(root / "part-*.gz")], tft.TFTransformOutput(str(root / "transform"))


def _epoch(dataset) -> list[tuple[float, float]]:
    return [(float(a), float(y)) for features, labels in dataset
            for a, y in zip(features["a_xf"].numpy().ravel(), labels.numpy().ravel(),
                            strict=True)]


CONFIG = ModelConfig(label_key="y", dense_float_features=["a"], num_epochs=2,
                     source={"table": "t", "split_key": "id"})
EXPECTED = sorted((2 * tf.train.Example.FromString(e).features.feature["a"].float_list.value[0],
                   1000.0 + i) for i, e in enumerate(_examples()))


@pytest.mark.parametrize("keep_in_memory", [True, False])
def test_an_epoch_has_every_row_once_transformed_in_known_batches(raw, keep_in_memory):
    from pipelines.trainer.run_fn import count_records, input_dataset

    files, output = raw
    assert count_records(sorted(tf.io.gfile.glob(files[0]))) == ROWS
    dataset = input_dataset(files, output, CONFIG, 32, 1, keep_in_memory=keep_in_memory)
    assert dataset.cardinality().numpy() == 5  # ceil(150 / 32)
    first, second = _epoch(dataset), _epoch(dataset)
    for epoch in (first, second):
        # the transform applied to every row once, the label split off
        np.testing.assert_allclose(np.array(sorted(epoch)), np.array(EXPECTED), rtol=1e-6)
    assert first != second  # reshuffled each epoch
    assert first == _epoch(input_dataset(files, output, CONFIG, 32, 1,
                                         keep_in_memory=keep_in_memory))  # and seeded


def test_by_steps_the_data_repeats_in_full_batches(raw):
    from pipelines.trainer.run_fn import input_dataset

    files, output = raw
    batches = list(input_dataset(files, output, CONFIG, 32, None).take(12))
    assert [len(labels) for _, labels in batches] == [32] * 12  # past one epoch, no remainder


def test_keras_runs_several_steps_per_call_over_it(raw):
    from pipelines.trainer.builders import STEPS_PER_EXECUTION, build_keras_model
    from pipelines.trainer.run_fn import input_dataset

    files, output = raw
    model = build_keras_model(CONFIG)
    assert model._steps_per_execution.numpy() == STEPS_PER_EXECUTION > 1
    train = input_dataset(files, output, CONFIG, 32, 1, keep_in_memory=True)
    history = model.fit(train, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
