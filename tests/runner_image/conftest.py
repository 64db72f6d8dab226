"""The image under test: ``make image-test`` builds it and names it in FULLCYCLE_TEST_IMAGE.

Tests that run the image take the ``image`` fixture; without a built image (``make test``)
they are skipped, with the command that runs them."""

import os

import pytest

IMAGE_ENV = "FULLCYCLE_TEST_IMAGE"


@pytest.fixture(scope="session")
def image() -> str:
    name = os.environ.get(IMAGE_ENV)
    if not name:
        pytest.skip(f"no image under test ({IMAGE_ENV} unset): `make image-test` builds one "
                    "with podman and runs these tests")
    return name
