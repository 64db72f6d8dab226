"""What ``fullcycle new`` writes passes the project's own lint."""

from pipelines.config.scaffold import TEST_TEMPLATE


def test_the_scaffolded_test_keeps_to_the_line_length_for_a_long_model_name():
    source = TEST_TEMPLATE.read_text().format(name="diabetes_progression_per_clinic")
    assert max(len(line) for line in source.splitlines()) <= 100  # ruff's line-length
