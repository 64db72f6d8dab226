"""Feeding JSON instances to a SavedModel's serving_default signature."""

from pathlib import Path

import pytest
import tensorflow as tf

from pipelines.config.errors import FullcycleError
from pipelines.serving.model_store import LoadedModel


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> LoadedModel:
    """Sums a NaN-padded sequence and adds a scalar, as the RNN signatures take them."""

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="seq"),
                                      tf.TensorSpec([None], tf.float32, name="x"),
                                      tf.TensorSpec([None], tf.string, name="word")])
        def serve(self, seq, x, word):
            present = tf.where(tf.math.is_nan(seq), tf.zeros_like(seq), seq)
            length = tf.cast(tf.strings.length(word), tf.float32)
            return {"outputs": tf.reduce_sum(present, axis=1) + x + length}

    path = tmp_path_factory.mktemp("model") / "1"
    module = Model()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return LoadedModel(Path(path))


def test_sequences_of_any_length_scalars_and_missing_values(model):
    rows = [{"seq": [1.0, 2.0, 3.0], "x": 0.5, "word": "ab"},
            {"seq": 4.0, "x": 0.0, "word": ""},          # a one-step sequence as a scalar
            {"seq": None, "x": 1.0, "word": "abc"},      # missing: all padding
            {"seq": [1.0, None], "x": 0.0, "word": "a"}]  # a missing step
    assert model.predict(rows) == pytest.approx([8.5, 4.0, 4.0, 2.0])
    assert model.feature_names == ["seq", "word", "x"]


def test_bad_instances_are_named(model):
    with pytest.raises(FullcycleError, match="instance 1 lacks feature.s. word, and the model "
                                             "has no rule for a missing value .* needs: seq, "
                                             "word, x"):
        model.predict([{"seq": [1.0], "x": 1.0, "word": "a"}, {"seq": [1.0], "x": 1.0}])
    with pytest.raises(FullcycleError, match="feature 'x' of instance 0: 'high' is not one "
                                             "float number"):
        model.predict([{"seq": [1.0], "x": "high", "word": "a"}])
    with pytest.raises(FullcycleError, match=r"feature 'x' of instance 1: \[1.0, 2.0\] is not "
                                             "one float number"):
        model.predict([{"seq": [1.0], "x": 1.0, "word": "a"},
                       {"seq": [1.0], "x": [1.0, 2.0], "word": "a"}])
    with pytest.raises(FullcycleError, match="feature 'word' of instance 0: .* is not one string"):
        model.predict([{"seq": [1.0], "x": 1.0, "word": ["a"]}])
