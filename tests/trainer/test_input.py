"""The Trainer's input: an epoch of known batches, kept in memory when small, same rows."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.config import ModelConfig


def _examples(n: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    return [tf.train.Example(features=tf.train.Features(feature={
        "a_xf": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.normal()])),
        "y_xf": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
    })).SerializeToString() for i in range(n)]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    """Gzipped transformed examples and a real tf.Transform output describing them."""
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    from pipelines.compat import patch_beam_for_tft

    patch_beam_for_tft()
    root = tmp_path_factory.mktemp("transformed")
    files = []
    for shard, rows in enumerate((_examples(150)[:100], _examples(150)[100:])):
        path = str(root / f"part-{shard}.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as out:
            for row in rows:
                out.write(row)
        files.append(path)
    spec = {"a_xf": tf.io.FixedLenFeature([], tf.float32),
            "y_xf": tf.io.FixedLenFeature([], tf.float32)}
    with tft_beam.Context(temp_dir=str(root / "tmp"), force_tf_compat_v1=True):
        import apache_beam as beam

        with beam.Pipeline() as pipeline:
            rows = pipeline | beam.Create([{"a_xf": 0.0, "y_xf": 1.0}])
            transform_fn = ((rows, tft.DatasetMetadata.from_feature_spec(spec))
                            | tft_beam.AnalyzeDataset(lambda inputs: dict(inputs)))
            _ = transform_fn | tft_beam.WriteTransformFn(str(root / "transform"))
    return [str(root / "part-*.gz")], tft.TFTransformOutput(str(root / "transform"))


def _accessor():
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx_bsl.public import tfxio

    def factory(file_pattern, options, schema):  # what TFX's Trainer hands run_fn
        return tfxio.TFExampleRecord(file_pattern=file_pattern, schema=schema) \
            .TensorFlowDataset(options)

    return DataAccessor(tf_dataset_factory=factory, record_batch_factory=None,
                        data_view_decode_fn=None)


def _labels(dataset) -> list[list[float]]:
    return [batch[1].numpy().ravel().tolist() for batch in dataset]


CONFIG = ModelConfig(label_key="y", dense_float_features=["a"], num_epochs=2,
                     source={"table": "t", "split_key": "id"})


def test_epoch_in_memory_has_every_row_once_in_known_batches(transformed):
    from pipelines.trainer.run_fn import count_records, input_dataset

    files, output = transformed
    assert count_records(files) == 150
    kept = input_dataset(files, _accessor(), output, CONFIG, 32, 1, keep_in_memory=True)
    read = input_dataset(files, _accessor(), output, CONFIG, 32, 1)
    assert kept.cardinality().numpy() == read.cardinality().numpy() == 5  # ceil(150 / 32)
    first, second = _labels(kept), _labels(kept)
    for epoch in (first, second, _labels(read)):
        assert [len(b) for b in epoch] == [32, 32, 32, 32, 22]
        assert sorted(v for b in epoch for v in b) == [float(i) for i in range(150)]
    assert first != second  # reshuffled each epoch, as TFX's reader does
    assert first == _labels(input_dataset(files, _accessor(), output, CONFIG, 32, 1,
                                          keep_in_memory=True))  # and seeded


def test_keras_runs_several_steps_per_call_over_it(transformed):
    from pipelines.trainer.builders import STEPS_PER_EXECUTION, build_keras_model
    from pipelines.trainer.run_fn import input_dataset

    files, output = transformed
    model = build_keras_model(CONFIG)
    assert model._steps_per_execution.numpy() == STEPS_PER_EXECUTION > 1
    train = input_dataset(files, _accessor(), output, CONFIG, 32, 1, keep_in_memory=True)
    history = model.fit(train, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
