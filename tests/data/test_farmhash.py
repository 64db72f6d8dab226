"""Our FARM_FINGERPRINT is BigQuery's: documented values and TensorFlow as an oracle."""

import random

import numpy as np
import pytest
import tensorflow as tf

from pipelines.data.farmhash import fingerprint64


@pytest.mark.parametrize(("text", "expected"), [
    # From BigQuery's FARM_FINGERPRINT documentation.
    ("1footrue", -1541654101129638711),
    ("2applefalse", 2794438866806483259),
    ("3true", -4880158226897771312),
    ("alphabet", -2427165924636348523),
])
def test_bigquery_documented_values(text, expected):
    assert fingerprint64(text) == expected


def test_matches_tensorflow_fingerprint_for_every_length_branch():
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789|é"
    strings = ["".join(rng.choice(alphabet) for _ in range(n)) for n in range(0, 260)] * 2
    raw = tf.fingerprint(tf.constant(strings)).numpy()
    expected = np.frombuffer(raw.tobytes(), dtype="<i8").tolist()
    assert [fingerprint64(s) for s in strings] == expected
