"""Feature engineering: config-driven tf.transform preprocessing and naming helpers."""
