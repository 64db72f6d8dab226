"""When the Trainer evaluates the eval split: at every point when that is cheap."""

from pipelines.trainer.run_fn import validation_points


def test_every_point_when_a_validation_pass_is_no_larger_than_a_point_of_training():
    assert validation_points(10, train_examples_per_point=8000, eval_examples=2000) == \
        list(range(1, 11))
    assert validation_points(5, train_examples_per_point=100, eval_examples=100) == \
        [1, 2, 3, 4, 5]


def test_only_the_last_point_when_a_pass_costs_more_or_its_size_is_unknown():
    assert validation_points(10, train_examples_per_point=3840, eval_examples=200_000) == [10]
    assert validation_points(10, train_examples_per_point=3840, eval_examples=None) == [10]
