"""The rehearsal's Vertex AI runs batch prediction jobs, as Vertex AI does, on the emulators.

:class:`ExecutingBatchPrediction` is ``tests/support``'s :class:`FakeBatchPrediction`
(its request checks: what Vertex AI refuses is refused here, an existing output table
included, asked of the BigQuery emulator) whose accepted jobs then run in a thread:

1. PENDING -> RUNNING; the model version's ``artifactUri`` (the local Vertex AI's
   registry) is copied out of fake-gcs-server, and loaded as the prebuilt TensorFlow
   serving container loads it;
2. the input table is read from the BigQuery emulator; each row, without the excluded
   fields, is one ``{"feature": value}`` instance for ``serving_default`` (what
   TensorFlow Serving's row-format ``predict`` does; ``LoadedModel.predict`` is the
   local endpoint's own instance handling);
3. the output table is created (it must not exist) with the excluded fields, under
   their names and input types, and ``prediction``: the signature's one output per
   instance, FLOAT64 or REPEATED FLOAT64 (TensorFlow Serving omits the output's name
   when there is one: ``pipelines/cloud/score_output.py`` cites it). Vertex AI also
   copies the instance's columns; the post-step reads none of them, so they are left
   out here (their NaN missing markers are no JSON a streaming insert takes);
4. SUCCEEDED with ``outputInfo`` and ``completionStats``; any error: FAILED, its message.

The BigQuery calls go through the model's service account's gateway: the job runs as it.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

from tests.support.vertex_batch import FakeBatchPrediction

INSERT_ROWS = 500


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class _EmulatorTables:
    """``bq://`` URIs of the BigQuery emulator's tables, as FakeBatchPrediction asks."""

    def __init__(self, client):
        self.client = client

    def __contains__(self, uri: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(uri.removeprefix("bq://"))
            return True
        except NotFound:
            return False

    def add(self, uri: str) -> None:
        """The job creates it when it runs."""


class ExecutingBatchPrediction(FakeBatchPrediction):
    """Batch prediction jobs that really run (see the module docstring)."""

    def __init__(self, project: str, region: str, registry, gcs_url: str, bigquery_url: str,
                 folder: Path):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        self.bigquery = bigquery.Client(project=project, credentials=AnonymousCredentials(),
                                        client_options=ClientOptions(api_endpoint=bigquery_url))
        super().__init__(project, region, tables=_EmulatorTables(self.bigquery))
        self.registry, self.gcs_url, self.folder = registry, gcs_url, folder
        self.threads: list[threading.Thread] = []
        self.tracebacks: dict[str, str] = {}  # job name -> why it failed, for people

    def send(self, request):
        known = set(self.jobs)
        response = super().send(request)
        for name in set(self.jobs) - known:  # accepted just now: it runs
            thread = threading.Thread(target=self._run, args=(name,), daemon=True,
                                      name=f"batch-{name.rsplit('/', 1)[-1]}")
            self.threads.append(thread)
            thread.start()
        return response

    def wait(self, timeout: float = 600) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _run(self, name: str) -> None:
        job = self.jobs[name]
        job.update(state="JOB_STATE_RUNNING", startTime=_now())
        try:
            rows = self._execute(job)
        except Exception as err:  # the job fails, as Vertex AI reports it
            self.tracebacks[name] = traceback.format_exc()
            job.update(state="JOB_STATE_FAILED", endTime=_now(), error={
                "code": 3, "message": f"{type(err).__name__}: {err}"})
            return
        table = job["outputConfig"]["bigqueryDestination"]["outputUri"].removeprefix("bq://")
        job.update(state="JOB_STATE_SUCCEEDED", endTime=_now(),
                   completionStats={"successfulCount": str(rows), "failedCount": "0"},
                   outputInfo={"bigqueryOutputDataset": "bq://" + table.rsplit(".", 1)[0],
                               "bigqueryOutputTable": table.rsplit(".", 1)[1]})

    def _artifact(self, model: str) -> str:
        model_id, version = model.rsplit("/", 1)[1].split("@")
        return self.registry.models[model_id]["artifacts"][version]

    def _download(self, uri: str, into: Path) -> Path:
        """The SavedModel folder at ``uri`` from fake-gcs-server, as the container copies it."""
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        prefix = prefix.rstrip("/") + "/"
        query = urllib.parse.urlencode({"prefix": prefix})
        with urllib.request.urlopen(f"{self.gcs_url}/storage/v1/b/{bucket}/o?{query}",
                                    timeout=60) as response:
            items = json.loads(response.read()).get("items", [])
        for item in items:
            if item["name"].endswith("/"):  # a folder's placeholder object
                continue
            target = into / item["name"][len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            quoted = urllib.parse.quote(item["name"], safe="")
            with urllib.request.urlopen(f"{self.gcs_url}/download/storage/v1/b/{bucket}/o/"
                                        f"{quoted}?alt=media", timeout=60) as response:
                target.write_bytes(response.read())
        if not (into / "saved_model.pb").exists():
            raise RuntimeError(f"{uri} holds no SavedModel (saved_model.pb)")
        return into

    def _execute(self, job: dict) -> int:
        from google.cloud import bigquery

        from pipelines.serving.model_store import LoadedModel

        source = job["inputConfig"]["bigquerySource"]["inputUri"].removeprefix("bq://")
        target = job["outputConfig"]["bigqueryDestination"]["outputUri"].removeprefix("bq://")
        excluded = job.get("instanceConfig", {}).get("excludedFields", [])
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            model = LoadedModel(self._download(self._artifact(job["model"]), Path(tmp)))
            table = self.bigquery.get_table(source)
            rows = self.bigquery.list_rows(table).to_arrow(
                create_bqstorage_client=False).to_pylist()
            instances = [{k: v for k, v in row.items() if k not in excluded} for row in rows]
            predictions = model.predict(instances) if instances else []
        repeated = bool(predictions) and isinstance(predictions[0], list)
        types = {f.name: f for f in table.schema}
        schema = [bigquery.SchemaField(name, types[name].field_type, types[name].mode)
                  for name in excluded]
        schema.append(bigquery.SchemaField("prediction", "FLOAT64",
                                           "REPEATED" if repeated else "NULLABLE"))
        self.bigquery.create_table(bigquery.Table(target, schema=schema))  # 409 if it exists
        out = [{**{k: row[k] for k in excluded}, "prediction": p}
               for row, p in zip(rows, predictions, strict=True)]
        for start in range(0, len(out), INSERT_ROWS):
            errors = self.bigquery.insert_rows_json(target, out[start:start + INSERT_ROWS])
            if errors:
                raise RuntimeError(f"writing {target}: {errors[:3]}")
        return len(out)
