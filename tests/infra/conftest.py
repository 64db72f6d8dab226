"""Fixtures for planning stacks: many generated models."""

import pytest


@pytest.fixture
def many_models(models_package):
    """Twelve model folders (copies of basic_template's config) registered as models."""
    from pipelines.models.basic_template import config as template

    source = open(template.__file__).read()
    names = [f"model_{i:02d}" for i in range(12)]
    for name in names:
        models_package(name, source)
    return names
