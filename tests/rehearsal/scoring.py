"""What the scoring e2e tests read back from the rehearsal: the destination in the BigQuery
emulator, and the local model's own scores of the same rows (``fullcycle score``'s path)."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path


def bigquery(rehearsal):
    """A BigQuery client straight to the emulator (the test looking, not a runtime call)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery as bq

    return bq.Client(project=rehearsal.target.project, credentials=AnonymousCredentials(),
                     client_options=ClientOptions(
                         api_endpoint=f"http://127.0.0.1:{rehearsal.emulators.bq_port}"))


def destination_rows(rehearsal, config) -> list[dict]:
    """Every row of the model's destination table, [] when it does not exist."""
    from google.api_core.exceptions import NotFound

    name = f"{rehearsal.target.project}.{rehearsal.target.dataset}.{config.score_destination}"
    try:
        return [dict(r) for r in bigquery(rehearsal).query(f"SELECT * FROM `{name}`").result()]
    except NotFound:
        return []


def delete_object(rehearsal, name: str) -> None:
    """Deletes an object of the model's bucket (what a kill before writing it leaves)."""
    url = (f"{rehearsal.emulators.gcs_url}/storage/v1/b/{rehearsal.target.bucket}/o/"
           f"{urllib.parse.quote(name, safe='')}")
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30).read()


def local_predictions(rehearsal, config, artifact_uri: str, folder: Path) -> dict:
    """key -> prediction of the pushed model on the warehouse's rows, as ``fullcycle score``
    computes them (DuckDB's Arrow batches into ``serving_default``)."""
    from pipelines.data.scoring import rows_query
    from pipelines.data.splits import LOCAL_DATASET
    from pipelines.data.warehouse import connect
    from pipelines.serving.batch import feeds, prediction_columns
    from pipelines.serving.model_store import LoadedModel

    model = LoadedModel(rehearsal.vertex.batch._download(artifact_uri, folder))
    con = connect(rehearsal.warehouse, read_only=True)
    try:
        sql, _ = rows_query(config, con, LOCAL_DATASET)
        found = {}
        for batch in con.execute(sql).to_arrow_reader(65_536):
            predicted = prediction_columns(config.task, model.predict_feeds(feeds(model, batch)))
            keys = zip(*(batch.column(k).to_pylist() for k in config.score_keys), strict=True)
            found.update(zip(keys, predicted["prediction"].to_pylist(), strict=True))
        return found
    finally:
        con.close()
