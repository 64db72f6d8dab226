"""Stacks to plan: the committed dev stack, one model, and many generated models."""

import pytest

from infra.config import StackConfig

BASE = {"gcp:project": "acme-ml-prod", "gcp:region": "europe-west4",
        "fullcycle:runnerImage": "europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/runner:1",
        "fullcycle:labels": {"team": "ds"}}


def stack(models, **extra) -> StackConfig:
    return StackConfig.from_mapping({**BASE, "fullcycle:models": models, **extra}, "prod")


@pytest.fixture
def many_models(models_package):
    """Twelve model folders (copies of basic_template's config) registered as models."""
    from pipelines.models.basic_template import config as template

    source = open(template.__file__).read()
    names = [f"model_{i:02d}" for i in range(12)]
    for name in names:
        models_package(name, source)
    return names
