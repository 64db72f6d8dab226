"""basic_template's dev-stack target, and every Google API it reaches, faked at HTTP."""

import pytest

from pipelines.cloud.target import CloudTarget
from pipelines.stack.names import REQUEST_LOG_TABLE
from tests.support.google_fakes import FakeGoogleCloud
from tests.support.google_http import intercepted


@pytest.fixture
def target():
    return CloudTarget.from_stack("basic_template", "dev")


@pytest.fixture
def cloud(monkeypatch, target):
    """Vertex AI, BigQuery (with the endpoint's request log), Monitoring and GCS."""
    with intercepted(monkeypatch, FakeGoogleCloud({target.bucket})) as fake:
        fake.bigquery.tables[f"{target.project}.{target.dataset}.{REQUEST_LOG_TABLE}"] = []
        yield fake
