"""basic_template's dev-stack target, and every Google API it reaches, faked at HTTP."""

import pytest

from pipelines.cloud.target import CloudTarget
from pipelines.stack.names import REQUEST_LOG_TABLE
from tests.support.google_fakes import FakeGoogleCloud
from tests.support.google_http import intercepted

# A run's SavedModel as the Trainer leaves it under pipeline_root/ (runs 1..5 exist).
ARTIFACTS = "gs://fullcycle-dev-fc-basic-template/pipeline_root/Trainer/model/{}/Format-Serving"
SAVED_MODEL = ("saved_model.pb", "variables/variables.index",
               "variables/variables.data-00000-of-00001")


@pytest.fixture
def target():
    return CloudTarget.from_stack("basic_template", "dev")


@pytest.fixture
def cloud(monkeypatch, target):
    """Vertex AI, BigQuery (with the endpoint's request log), Monitoring and GCS (with the
    SavedModels of runs 1..5, which the Pusher copies to models/<version>/)."""
    with intercepted(monkeypatch, FakeGoogleCloud({target.bucket})) as fake:
        fake.bigquery.tables[f"{target.project}.{target.dataset}.{REQUEST_LOG_TABLE}"] = []
        for run in range(1, 6):
            prefix = ARTIFACTS.format(run).removeprefix(f"gs://{target.bucket}/")
            for name in SAVED_MODEL:
                fake.gcs.put(target.bucket, f"{prefix}/{name}", f"run {run}: {name}".encode(),
                             0.0)
        yield fake
