"""The cloud runner's scoring backend over HTTP fakes: fake Vertex AI, BigQuery and GCS
behind the real Google clients, a model deployed on the fake endpoint, finished scores.
Shared by tests/runner/test_vertex_scores.py and test_vertex_score_append.py (their
``cloud`` and ``instance`` fixtures are in tests/runner/conftest.py)."""

import json

from pipelines.config import load_config
from tests.support.google_fakes import PARENT, PROJECT

MODEL = "basic_template"
BUCKET = "fullcycle-dev-fc-basic-template"
TICK = {"X-CloudScheduler-ScheduleTime": "2026-12-06T06:00:00Z"}
ACCOUNT = "fc-basic-template@fullcycle-dev.iam.gserviceaccount.com"


def deploy(cloud, *deployed: tuple[str, str, int]) -> None:
    """Registry versions of the model and the endpoint serving them: (id, version, traffic)."""
    serving = {"features": {f: {"dtype": "string" if f.startswith("categorical") else
                                "float32", "sequence": False, "optional": True}
                            for f in load_config(MODEL).raw_feature_keys}}
    registry = cloud.cloud.registry
    registry.models["100"] = {"displayName": "fc-basic-template", "aliases": {}, "artifacts": {},
                              "default": "1", "labels": {"app": "fullcycle"}}
    for n, (deployed_id, version, traffic) in enumerate(deployed):
        folder = f"models/17961000000{version}"
        registry.models["100"]["aliases"][version] = [f"v{version}"]
        registry.models["100"]["artifacts"][version] = f"gs://{BUCKET}/{folder}"
        cloud.cloud.gcs.put(BUCKET, f"{folder}/assets.extra/serving.json",
                            json.dumps(serving).encode(), 1796100000.0)
        registry.endpoint["deployedModels"].append({
            "id": deployed_id, "model": f"{PARENT}/models/100", "modelVersionId": version,
            "createTime": f"2026-11-29T10:0{n}:00Z"})
        registry.endpoint["trafficSplit"][deployed_id] = traffic


OUTPUT_ROWS = [{"id": i, "prediction": i / 10} for i in range(5)]


def finished(cloud, runner, tick: dict[str, str] = TICK) -> tuple[str, str]:
    """A scheduled score whose job SUCCEEDED: (score id, destination table)."""
    if not cloud.cloud.registry.endpoint["deployedModels"]:
        deploy(cloud, ("501", "2", 100))
    score = runner.post("/scores", json={"model": MODEL}, headers=tick).json()
    job = cloud.batch.jobs[score["detail"]["batch_prediction_job"]]
    bigquery = cloud.cloud.bigquery
    rows = job["inputConfig"]["bigquerySource"]["inputUri"].removeprefix("bq://")
    bigquery.table(rows, [{"name": "id", "type": "INTEGER"},
                          {"name": "numeric_feature1", "type": "FLOAT"}],
                   [{"id": r["id"], "numeric_feature1": 1.0} for r in OUTPUT_ROWS])
    output = job["outputConfig"]["bigqueryDestination"]["outputUri"].removeprefix("bq://")
    bigquery.table(output, [{"name": "id", "type": "INTEGER"},  # what the job wrote
                            {"name": "prediction", "type": "FLOAT"}], OUTPUT_ROWS)
    job["state"] = "JOB_STATE_SUCCEEDED"
    return score["run_id"], f"{PROJECT}.fc_basic_template.basic_template_predictions"
