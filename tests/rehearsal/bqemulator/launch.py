"""Starts bqemulator for the rehearsal, with what BigQuery does that the emulator does not.

Runs on Python 3.11 in the emulator's own venv (``make rehearsal-bq``), never in the
project's. Three changes, all in this process:

- DuckDB's ``spatial`` extension is not loaded (it is a download; the rehearsal has no
  GEOGRAPHY columns);
- a query job that names a ``destinationTable`` (Beam's read: query into a temp table)
  materialises that table, as BigQuery does;
- an extract job to ``gs://`` writes its file into the GCS emulator (``--gcs``), as
  Avro (fastavro: DuckDB's avro extension is a download too) or newline-delimited
  JSON; a ``*`` in the URI becomes the first shard's number.

Usage: ``python launch.py --port P --gcs http://127.0.0.1:G --project ID``.
"""

import argparse
import io
import json
import urllib.parse
import urllib.request

_AVRO_TYPES = {"BIGINT": "long", "INTEGER": "long", "HUGEINT": "long", "DOUBLE": "double",
               "FLOAT": "double", "REAL": "double", "BOOLEAN": "boolean"}
_BQ_TYPES = {"long": "INTEGER", "double": "FLOAT", "boolean": "BOOLEAN", "string": "STRING"}


def _upload(gcs: str, uri: str, data: bytes) -> None:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    url = (f"{gcs}/upload/storage/v1/b/{bucket}/o?uploadType=media&name="
           f"{urllib.parse.quote(name, safe='')}")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def _rows(ctx, table_ref: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    cursor = ctx.engine.execute(f"SELECT * FROM {table_ref}")
    columns = [(d[0], _AVRO_TYPES.get(str(d[1]).upper(), "string")) for d in cursor.description]
    return columns, cursor.fetchall()


def _avro(columns, rows) -> bytes:
    import fastavro

    schema = {"type": "record", "name": "Root", "fields": [
        {"name": name, "type": ["null", kind]} for name, kind in columns]}
    records = [{name: (value if kind != "string" or value is None else str(value))
                for (name, kind), value in zip(columns, row, strict=True)} for row in rows]
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), records)
    return out.getvalue()


def _json(columns, rows) -> bytes:
    lines = [json.dumps({name: (value if kind != "string" or value is None else str(value))
                         for (name, kind), value in zip(columns, row, strict=True)})
             for row in rows]
    return ("\n".join(lines) + "\n").encode()


def patch(gcs: str) -> None:
    from bqemulator.api.routes import jobs as routes
    from bqemulator.jobs import executor
    from bqemulator.storage import engine

    engine.DuckDBEngine._load_spatial = lambda self: None

    original_query = routes._execute_query_or_failed_meta

    async def query(**kwargs):
        meta = await original_query(**kwargs)
        destination = kwargs["query_config"].get("destinationTable")
        if destination and getattr(meta, "state", "DONE") == "DONE" and not getattr(
                meta, "error_result", None):
            project = destination.get("projectId") or kwargs["project_id"]
            target = f"`{project}`.`{destination['datasetId']}`.`{destination['tableId']}`"
            await executor.execute_query_job(
                kwargs["project_id"], f"{kwargs['job_id']}_materialise",
                f"CREATE OR REPLACE TABLE {target} AS {kwargs['bq_sql']}",
                kwargs["query_params"], kwargs["ctx"], caller=kwargs["caller"])
        return meta

    routes._execute_query_or_failed_meta = query
    original_extract = executor.execute_extract_job

    async def extract(project_id, job_id, config, ctx):
        spec = config.get("extract", {})
        uris = spec.get("destinationUris", [])
        if not uris or not uris[0].startswith("gs://"):
            return await original_extract(project_id, job_id, config, ctx)
        source = spec["sourceTable"]
        table_ref = executor.quoted_table_ref(source.get("projectId", project_id),
                                              source["datasetId"], source["tableId"])
        columns, rows = _rows(ctx, table_ref)
        fmt = spec.get("destinationFormat", "CSV").upper()
        writers = {"AVRO": _avro, "NEWLINE_DELIMITED_JSON": _json}
        if fmt not in writers:
            return await original_extract(project_id, job_id, config, ctx)
        _upload(gcs, uris[0].replace("*", "000000000000"), writers[fmt](columns, rows))
        now = ctx.clock.now()
        return executor.JobMeta(
            project_id=project_id, job_id=job_id, job_type="EXTRACT", state="DONE",
            configuration=config, statistics={"extract": {"destinationUriFileCounts": ["1"]}},
            creation_time=now, start_time=now, end_time=ctx.clock.now(),
            etag=executor.generate_etag(project_id, job_id, str(now)))

    executor.execute_extract_job = extract
    routes.execute_extract_job = extract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--gcs", required=True, help="the GCS emulator's base URL")
    parser.add_argument("--project", required=True)
    args = parser.parse_args()
    patch(args.gcs)
    from bqemulator.config import PersistenceMode, Settings
    from bqemulator.server import run_forever

    run_forever(Settings(rest_host="127.0.0.1", rest_port=args.port, grpc_host="127.0.0.1",
                         grpc_port=args.grpc_port, default_project_id=args.project,
                         persistence_mode=PersistenceMode.EPHEMERAL))


if __name__ == "__main__":
    main()
