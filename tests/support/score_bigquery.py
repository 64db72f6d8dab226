"""A fake BigQuery for a cloud score's post-step, behind the real client's HTTP transport.

It keeps tables (schema and rows) and answers ``tables.get`` and the query jobs the
post-step sends (``pipelines/cloud/score_output.py``), by their shapes: the count of a
score's rows in the destination, ``CREATE TABLE IF NOT EXISTS``, the ``INSERT ...
WHERE NOT EXISTS`` (which appends the output table's rows with the parameters'
values, unless rows of that score id are there: BigQuery runs the statement as one),
and the sample of the input rows; ``tables.patch`` of a table's expiration
(``expires``). Anything else is refused. ``before_insert`` runs as
an INSERT arrives (another instance racing); ``inserts`` counts the INSERT statements.
The SQL itself runs on the rehearsal's BigQuery emulator (tests/rehearsal).
"""

import json
import re
from urllib.parse import urlparse

from tests.support.google_fakes import FakeBigQuery, _error
from tests.support.google_http import json_response

_TYPES = {"int": "INTEGER", "float": "FLOAT", "str": "STRING"}


class FakeScoreBigQuery(FakeBigQuery):
    """Tables with schemas and rows; the post-step's statements (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.schemas: dict[str, list[dict]] = {}  # project.dataset.table -> fields
        self.inserts = 0
        self.before_insert = None
        self.expires: dict[str, int] = {}  # project.dataset.table -> expirationTime (ms)

    def table(self, name: str, fields: list[dict], rows: list[dict]) -> None:
        self.schemas[name], self.tables[name] = fields, rows

    def send(self, request):
        path = urlparse(request.url).path
        m = re.fullmatch(r"/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)", path)
        if m and request.method == "PATCH" and ".".join(m.groups()) in self.schemas:
            name, body = ".".join(m.groups()), json.loads(request.body)
            self.expires[name] = int(body["expirationTime"])
            return json_response(request, 200, {
                "kind": "bigquery#table", "id": name, "expirationTime": body["expirationTime"],
                "tableReference": dict(zip(("projectId", "datasetId", "tableId"), m.groups(),
                                           strict=True)),
                "schema": {"fields": self.schemas[name]}})
        if m and request.method == "GET":
            name = ".".join(m.groups())
            if name not in self.schemas:
                return _error(request, 404, "notFound", f"Not found: Table {name}")
            return json_response(request, 200, {
                "kind": "bigquery#table", "id": name, "tableReference": dict(zip(
                    ("projectId", "datasetId", "tableId"), m.groups(), strict=True)),
                "schema": {"fields": self.schemas[name]}, "numRows": str(len(self.tables[name]))})
        kind = re.fullmatch(r"/bigquery/v2/projects/[^/]+/queries/([^/]+)", path)
        if kind and request.method == "GET" and kind.group(1) in self.jobs:
            job = self.jobs[kind.group(1)]
            if "fields" in job:
                return json_response(request, 200, {
                    "kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                    "jobReference": job["resource"]["jobReference"],
                    "schema": {"fields": job["fields"]},
                    "rows": [{"f": [{"v": None if row.get(f["name"]) is None else
                                     str(row[f["name"]])} for f in job["fields"]]}
                             for row in job["rows"]],
                    "totalRows": str(len(job["rows"]))})
        return super().send(request)

    def _insert(self, request, project, body):
        sql = body["configuration"]["query"]["query"].strip()
        values = {p["name"]: p["parameterValue"]["value"]
                  for p in body["configuration"]["query"].get("queryParameters", [])}
        if m := re.match(r"SELECT COUNT\(\*\) AS n FROM `([\w.-]+)` WHERE score_id = "
                         r"@score_id$", sql):
            self.queries.append(sql)
            n = sum(r["score_id"] == values["score_id"] for r in self.tables[m.group(1)])
            return self._answer(request, project, body, [{"name": "n", "type": "INTEGER"}],
                                [{"n": n}])
        if m := re.match(r"CREATE TABLE IF NOT EXISTS `([\w.-]+)` CLUSTER BY score_id AS\n",
                         sql):
            self.queries.append(sql)
            self._created(m.group(1), sql)
            return self._answer(request, project, body, [], [])
        if m := re.match(r"INSERT INTO `([\w.-]+)` \(([^)]*)\)\nSELECT .*? FROM `([\w.-]+)`", sql,
                         re.S):
            return self._append(request, project, body, sql, values, *m.groups())
        if m := re.match(r"SELECT (.*) FROM `([\w.-]+)`\nORDER BY FARM_FINGERPRINT", sql):
            self.queries.append(sql)
            names = [n.strip("`") for n in m.group(1).split(", ")]
            fields = [f for f in self.schemas[m.group(2)] if f["name"] in names]
            return self._answer(request, project, body, fields, self.tables[m.group(2)])
        return super()._insert(request, project, body)

    def _created(self, name: str, sql: str) -> None:
        if name in self.schemas:
            return
        source = re.search(r"FROM `([\w.-]+)`", sql).group(1)
        copied = re.match(r"[^\n]*\nSELECT (.*?), prediction, ", sql, re.S).group(1)
        types = {f["name"]: f for f in self.schemas[source]}
        fields = [types[c.strip("`")] for c in copied.split(", ")]
        fields += [{"name": "prediction", "type": "FLOAT", "mode": "NULLABLE"}]
        if "predicted_class" in sql:
            fields.append({"name": "predicted_class", "type": "INTEGER", "mode": "NULLABLE"})
        fields += [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in (
            ("model_version", "STRING"), ("scored_at", "TIMESTAMP"), ("score_id", "STRING"))]
        self.table(name, fields, [])

    def _append(self, request, project, body, sql, values, destination, columns, source):
        self.queries.append(sql)
        self.inserts += 1
        if self.before_insert is not None:
            hook, self.before_insert = self.before_insert, None
            hook()
        if destination not in self.schemas:
            return _error(request, 404, "notFound", f"Not found: Table {destination}")
        rows = []
        if not any(r["score_id"] == values["score_id"] for r in self.tables[destination]):
            names = [c.strip("`") for c in columns.split(", ")]
            for row in self.tables[source]:
                if row.get("errors") is not None:
                    continue
                rows.append({n: values[n] if n in values else row[n] for n in names})
            self.tables[destination].extend(rows)
        return self._answer(request, project, body, [], [], affected=len(rows))

    def _answer(self, request, project, body, fields, rows, affected=None):
        resource = self._done(project, body, rows)
        self.jobs[body["jobReference"]["jobId"]]["fields"] = fields
        if affected is not None:
            resource["statistics"]["query"] = {"numDmlAffectedRows": str(affected)}
        return json_response(request, 200, resource)
