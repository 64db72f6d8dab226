"""The rehearsal's recorded requests are named as IAM permissions and checked against the
permission table (tests/infra/recorded_calls.py)."""

from tests.infra.recorded_calls import Need, permissions_of, unlisted

MODEL = "fc-taxi-tips@acme-ml-prod.iam.gserviceaccount.com"
RUNNER = "fc-runner@acme-ml-prod.iam.gserviceaccount.com"
BUCKET = "acme-ml-prod-fc-taxi-tips"


def call(identity: str, service: str, method: str, resource: str) -> dict:
    return {"job": "j", "identity": identity, "service": service, "method": method,
            "host": "127.0.0.1:1", "resource": resource, "status": 200}


def test_requests_are_named_as_the_permissions_google_checks():
    assert permissions_of(call(MODEL, "storage", "GET", f"/storage/v1/b/{BUCKET}")) == [
        Need("storage.buckets.get", "bucket")]
    assert permissions_of(call(MODEL, "storage", "GET", f"/{BUCKET}/pipeline_root/a/b.pb")) == [
        Need("storage.objects.get", "bucket", "pipeline_root/a/b.pb")]
    assert permissions_of(call(
        MODEL, "storage", "POST",
        f"/storage/v1/b/{BUCKET}/o/pipeline_root/m/saved_model.pb/rewriteTo/b/{BUCKET}"
        "/o/models/17/saved_model.pb")) == [
        Need("storage.objects.get", "bucket", "pipeline_root/m/saved_model.pb"),
        Need("storage.objects.create", "bucket", "models/17/saved_model.pb")]
    assert permissions_of(call(RUNNER, "bigquery", "GET",
                               "/bigquery/v2/projects/p/queries/job_1")) == [
        Need("bigquery.jobs.create", "project")]  # a job's creator reads it back
    assert permissions_of(call(MODEL, "aiplatform", "POST",
                               "/v1/projects/p/locations/europe-west4/endpoints/7:deployModel")
                          ) == [Need("aiplatform.endpoints.deploy", "project")]
    assert permissions_of(call(MODEL, "aiplatform", "GET",
                               "/v1/projects/p/locations/europe-west4/models")) == [
        Need("aiplatform.models.list", "project")]


def test_what_the_table_grants_passes():
    assert unlisted([
        call(RUNNER, "storage", "GET", f"/storage/v1/b/{BUCKET}/o/baselines/baseline.json"),
        call(MODEL, "storage", "POST", f"/upload/storage/v1/b/{BUCKET}/o"),
        call(MODEL, "bigquery", "POST", "/bigquery/v2/projects/p/jobs"),
        call(MODEL, "aiplatform", "POST", "/v1/projects/p/locations/europe-west4/models:upload"),
    ]) == []


def test_a_runner_read_outside_its_prefixes_is_caught():
    """The runner may read baselines/, hyperparameters/, models/ and rollouts/, not runs."""
    problems = unlisted([call(RUNNER, "storage", "GET",
                              f"/storage/v1/b/{BUCKET}/o/pipeline_root/1/Trainer/model")])
    assert problems == [f"runner needs storage.objects.get at bucket on pipeline_root/1/Trainer/"
                        f"model (GET /storage/v1/b/{BUCKET}/o/pipeline_root/1/Trainer/model)"]


def test_a_call_the_model_never_makes_is_caught():
    problems = unlisted([call(MODEL, "aiplatform", "POST",
                              "/v1/projects/p/locations/europe-west4/pipelineJobs")])
    assert problems == ["model needs aiplatform.pipelineJobs.create at project "
                        "(POST /v1/projects/p/locations/europe-west4/pipelineJobs)"]


def test_a_request_no_rule_knows_is_reported_not_passed():
    problems = unlisted([call(MODEL, "iam", "POST", "/v1/projects/p/serviceAccounts/x:signBlob")])
    assert problems == ["model: iam POST /v1/projects/p/serviceAccounts/x:signBlob: no rule "
                        "names this request's permission"]


def test_an_upload_is_scoped_by_the_object_it_creates():
    from tests.rehearsal.gateway import uploaded_object

    body = (b'--b\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n'
            b'{"name": "scores/score-x.json", "contentType": "application/json"}\r\n--b--\r\n')
    marker = uploaded_object("uploadType=multipart", body)
    assert marker == "scores/score-x.json"
    assert uploaded_object("uploadType=media&name=rollouts%2Fm.lease", b"") == "rollouts/m.lease"
    upload = call(RUNNER, "storage", "POST", f"/upload/storage/v1/b/{BUCKET}/o")
    assert unlisted([{**upload, "object": marker}]) == []  # the runner writes score markers
    assert unlisted([{**upload, "object": "pipeline_root/x"}]) == [
        f"runner needs storage.objects.create at bucket on pipeline_root/x "
        f"(POST /upload/storage/v1/b/{BUCKET}/o)"]
