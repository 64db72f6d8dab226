"""A unit-test framework for model code: ``preprocessing_fn`` and Keras models.

TFX's templates only check that a preprocessing function exists; here it runs
for real with tf.transform's Beam implementation on a few in-memory rows, so a
test compares actual transformed values (analyzers included) with expected ones::

    from pipelines.testing import assert_rows_close, run_preprocessing_fn

    def test_scaling():
        rows = [{"x": 1.0}, {"x": 3.0}]
        out = run_preprocessing_fn(my_preprocessing_fn, rows)
        assert_rows_close(out, [{"x_xf": -1.0}, {"x_xf": 1.0}])

``model_for`` builds a model folder's Keras model from its config,
``transformed_batch`` makes a batch for it from transformed rows, and
``example_rows`` draws raw rows that fit a config (what ``fullcycle new``'s
scaffolded test starts from).
"""

from pipelines.testing.harness import (
    assert_rows_close,
    example_rows,
    feature_spec_for_rows,
    model_for,
    preprocessing_fn_for,
    run_preprocessing_fn,
    transformed_batch,
)

__all__ = ["assert_rows_close", "example_rows", "feature_spec_for_rows", "model_for",
           "preprocessing_fn_for", "run_preprocessing_fn", "transformed_batch"]
