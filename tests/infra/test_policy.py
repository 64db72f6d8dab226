"""Policy over every planned resource: least privilege, nothing public, labels, valid ids.

The Pulumi program runs for real under Pulumi's mocks; every assertion names the URN.
"""

import base64
import json

import pytest

from infra.plan import plan
from pipelines.stack.names import ModelNames, check
from tests.support.stacks import stack

LABELABLE = {"gcp:storage/bucket:Bucket", "gcp:bigquery/dataset:Dataset",
             "gcp:vertex/aiEndpoint:AiEndpoint", "gcp:artifactregistry/repository:Repository",
             "gcp:cloudrunv2/service:Service"}
RUNNER = "serviceAccount:fc-runner@acme-ml-prod.iam.gserviceaccount.com"
MODEL_PROJECT_ROLES = {"roles/bigquery.jobUser", "roles/aiplatform.user",
                       "roles/dataflow.developer", "roles/dataflow.worker"}


@pytest.fixture(params=["one", "many"])
def planned(request, many_models):
    names = many_models[:1] if request.param == "one" else many_models
    return plan(stack([{"name": n} for n in names]))


def email(model: str) -> str:
    account = ModelNames(model, "acme-ml-prod").service_account_id
    return f"{account}@acme-ml-prod.iam.gserviceaccount.com"


def test_every_bucket_is_private_and_uniform(planned):
    for bucket in planned.of_type("gcp:storage/bucket:Bucket"):
        assert bucket.inputs["uniformBucketLevelAccess"] is True, bucket.urn
        assert bucket.inputs["publicAccessPrevention"] == "enforced", bucket.urn
        assert bucket.inputs["versioning"]["enabled"] is True, bucket.urn
        (rule,) = bucket.inputs["lifecycleRules"]
        # run artifacts age out; the data baseline (baselines/) and rollout state do not
        assert rule["condition"]["matchesPrefixes"] == ["pipeline_root/", "tmp/"], bucket.urn


def test_no_primitive_roles_and_nothing_public(planned):
    for resource in planned.custom:
        role, member = resource.inputs.get("role"), resource.inputs.get("member")
        if role is None:
            continue
        assert role not in ("roles/owner", "roles/editor", "roles/viewer"), \
            f"{resource.urn}: primitive role {role}"
        assert member not in ("allUsers", "allAuthenticatedUsers"), \
            f"{resource.urn}: public member {member}"


def test_each_model_reaches_only_its_own_dataset_and_bucket(planned):
    names = [m.name for m in planned.config.models]
    for model in names:
        ids = planned.config.names(model)
        member = f"serviceAccount:{email(model)}"
        grants = [r for r in planned.custom if r.inputs.get("member") == member]
        assert grants, f"no grants for {model}"
        for grant in grants:
            if grant.type == "gcp:bigquery/datasetIamMember:DatasetIamMember":
                assert grant.inputs["datasetId"] == ids.dataset_id, grant.urn
                assert grant.inputs["role"] == "roles/bigquery.dataEditor", grant.urn
            elif grant.type == "gcp:storage/bucketIAMMember:BucketIAMMember":
                assert grant.inputs["bucket"] == ids.bucket, grant.urn
                assert grant.inputs["role"] == "roles/storage.objectAdmin", grant.urn
            elif grant.type == "gcp:projects/iAMMember:IAMMember":
                assert grant.inputs["role"] in MODEL_PROJECT_ROLES, grant.urn
            elif grant.type == "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember":
                assert grant.inputs["role"] == "roles/artifactregistry.reader", grant.urn
            elif grant.type == "gcp:serviceaccount/iAMMember:IAMMember":  # Dataflow's actAs
                assert grant.inputs["role"] == "roles/iam.serviceAccountUser", grant.urn
                assert grant.inputs["serviceAccountId"] == (
                    f"projects/acme-ml-prod/serviceAccounts/{email(model)}"), grant.urn
            else:
                pytest.fail(f"{grant.urn}: unexpected grant {grant.type}")
    for resource in planned.custom:  # besides the runner's read access, no one else
        if resource.type == "gcp:bigquery/datasetIamMember:DatasetIamMember":
            owner = resource.inputs["datasetId"].removeprefix("fc_")
            assert (resource.inputs["member"], resource.inputs["role"]) in (
                (f"serviceAccount:{email(owner)}", "roles/bigquery.dataEditor"),
                (RUNNER, "roles/bigquery.dataViewer"),
                (RUNNER, "roles/bigquery.dataEditor")), resource.urn  # a score's rows table


def test_runner_may_only_submit_roll_out_and_act_as_model_accounts(planned):
    grants = [r for r in planned.custom if r.inputs.get("member") == RUNNER]
    roles = sorted({g.inputs["role"] for g in grants})
    assert roles == ["roles/aiplatform.user", "roles/bigquery.dataEditor",
                     "roles/bigquery.dataViewer",
                     "roles/bigquery.jobUser", "roles/iam.serviceAccountUser",
                     "roles/monitoring.viewer", "roles/storage.legacyBucketReader",
                     "roles/storage.objectUser", "roles/storage.objectViewer"], roles
    by_role = {role: [g for g in grants if g.inputs["role"] == role] for role in roles}
    models = planned.config.models
    for grant in by_role["roles/iam.serviceAccountUser"]:  # on a model's account only
        assert grant.type == "gcp:serviceaccount/iAMMember:IAMMember", grant.urn
    for grant in by_role["roles/storage.legacyBucketReader"]:  # bucket metadata: a model's
        assert grant.inputs["bucket"] in {planned.config.names(m.name).bucket
                                          for m in planned.config.models}, grant.urn
    for grant in by_role["roles/bigquery.dataViewer"]:  # the request logs: model datasets
        assert grant.type == "gcp:bigquery/datasetIamMember:DatasetIamMember", grant.urn
    for role in ("roles/bigquery.dataViewer", "roles/bigquery.dataEditor"):  # + score rows
        assert sorted(g.inputs["datasetId"] for g in by_role[role]) == \
            sorted(planned.config.names(m.name).dataset_id for m in models), role
    written = []  # the rollout state and the scores' leases and markers, nothing else
    for grant in by_role["roles/storage.objectUser"]:
        bucket = grant.inputs["bucket"]
        written.append(grant.inputs["condition"]["expression"])
        assert written[-1] in (
            f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}/")'
            for prefix in ("rollouts", "scores")), grant.urn
    assert len(set(written)) == len(written) == 2 * len(models)
    viewed = []  # the data baseline, the tuning result, the kept models (batch scoring)
    for grant in by_role["roles/storage.objectViewer"]:
        bucket = grant.inputs["bucket"]
        viewed.append(grant.inputs["condition"]["expression"])
        assert viewed[-1] in (
            f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}/")'
            for prefix in ("baselines", "hyperparameters", "models")), grant.urn
    assert len(set(viewed)) == len(viewed) == 3 * len(models)
    assert len(by_role["roles/iam.serviceAccountUser"]) == len(models)


def test_schedulers_use_oidc_with_runner_url_as_audience(planned):
    (service,) = planned.of_type("gcp:cloudrunv2/service:Service")
    scheduler = "fc-scheduler@acme-ml-prod.iam.gserviceaccount.com"
    jobs = {j.inputs["name"]: j for j in planned.of_type("gcp:cloudscheduler/job:Job")}
    assert len(jobs) == 2 * len(planned.config.models)  # training and canary ticks
    for entry in planned.config.models:
        rollout = jobs[planned.config.names(entry.name).rollout_job]
        target = rollout.inputs["httpTarget"]
        assert target["oidcToken"]["serviceAccountEmail"] == scheduler, rollout.urn
        assert target["uri"] == f"{target['oidcToken']['audience']}/rollouts/{entry.name}:tick"
        assert rollout.inputs["schedule"] == entry.canary.tick_schedule, rollout.urn
        assert rollout.inputs["retryConfig"]["retryCount"] == 0, rollout.urn  # the next tick
    for entry in planned.config.models:
        job = jobs[planned.config.names(entry.name).scheduler_job]
        target = job.inputs["httpTarget"]
        assert target["oidcToken"]["serviceAccountEmail"] == scheduler, job.urn
        audience = target["oidcToken"]["audience"]
        assert audience.startswith("https://fullcycle-runner-"), job.urn
        assert target["uri"] == f"{audience}/runs" and target["httpMethod"] == "POST", job.urn
        assert json.loads(base64.b64decode(target["body"])) == {"model": entry.name}, job.urn
        assert job.inputs["retryConfig"]["retryCount"] == entry.retry.retry_count, job.urn


def test_cloud_run_has_no_public_invoker(planned):
    invokers = planned.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert [i.inputs["member"] for i in invokers] == [
        "serviceAccount:fc-scheduler@acme-ml-prod.iam.gserviceaccount.com"], \
        [i.urn for i in invokers]


AIRFLOW = "serviceAccount:airflow@acme-composer.iam.gserviceaccount.com"


def test_the_invokers_the_stack_lists_may_call_the_runner_and_nothing_else():
    planned = plan(stack([{"name": "taxi_tips"}], **{"fullcycle:invokers": [
        AIRFLOW, "group:ml-oncall@acme.com", "user:ml-oncall@acme.com"]}))
    invokers = planned.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert sorted(i.inputs["member"] for i in invokers) == [
        "group:ml-oncall@acme.com", AIRFLOW,
        "serviceAccount:fc-scheduler@acme-ml-prod.iam.gserviceaccount.com",
        "user:ml-oncall@acme.com"], [i.urn for i in invokers]
    for grant in invokers:
        assert grant.inputs["role"] == "roles/run.invoker", grant.urn
        assert grant.inputs["name"] == "fullcycle-runner", grant.urn
    others = [r.urn for r in planned.custom if r.inputs.get("member") in (
        AIRFLOW, "group:ml-oncall@acme.com", "user:ml-oncall@acme.com") and r not in invokers]
    assert others == []  # an invoker gets nothing else


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers", "airflow@acme.com",
                                    "domain:acme.com", "serviceAccount:not-an-email"])
def test_an_invoker_must_be_one_identity(member):
    from pipelines.config import ConfigError

    with pytest.raises(ConfigError, match=r"fullcycle:invokers: .*invoker .* is not "
                                          r"serviceAccount:<email>"):
        stack([{"name": "taxi_tips"}], **{"fullcycle:invokers": [member]})


def test_every_resource_waits_for_the_apis_it_calls(planned):
    """A fresh project's first pulumi up: nothing is created before the APIs are enabled."""
    from infra.components.runner import APIS

    services = {r.urn: r.inputs["service"] for r in
                planned.of_type("gcp:projects/service:Service")}
    assert sorted(services.values()) == sorted(APIS)
    assert {"compute.googleapis.com", "cloudresourcemanager.googleapis.com",
            "logging.googleapis.com", "dataflow.googleapis.com"} <= set(APIS)
    for resource in planned.custom:
        if resource.urn in services:
            continue
        missing = sorted(services[urn] for urn in set(services) - set(resource.dependencies))
        assert not missing, f"{resource.urn} does not wait for {', '.join(missing)}"


def test_every_labelable_resource_carries_the_labels(planned):
    for resource in planned.custom:
        if resource.type not in LABELABLE:
            continue
        labels = resource.labels or {}
        assert labels.get("app") == "fullcycle" and labels.get("team") == "ds", resource.urn
        assert labels.get("stack") == "prod", resource.urn
        if "ModelPlatform" in resource.urn:
            model = resource.urn.split("::")[-1].rsplit("-", 1)[0]
            assert labels.get("model") == model, resource.urn


def test_generated_ids_fit_gcp_rules(planned):
    kinds = {"gcp:serviceaccount/account:Account": ("service account id", "accountId"),
             "gcp:storage/bucket:Bucket": ("bucket name", "name"),
             "gcp:bigquery/dataset:Dataset": ("dataset id", "datasetId"),
             "gcp:cloudrunv2/service:Service": ("Cloud Run service name", "name")}
    for resource in planned.custom:
        if resource.type in kinds:
            kind, key = kinds[resource.type]
            assert check(kind, resource.inputs[key]) is None, \
                f"{resource.urn}: {check(kind, resource.inputs[key])}"


def test_a_model_added_to_the_stack_gets_all_its_resources(many_models):
    one = plan(stack([{"name": many_models[0]}]))
    two = plan(stack([{"name": many_models[0]}, {"name": many_models[1]}]))
    added = [r for r in two.custom if f"::{many_models[1].replace('_', '-')}-" in r.urn]
    assert len(two.custom) - len(one.custom) == len(added) == 23
    assert {r.type.split(":")[-1] for r in added} >= {"Bucket", "Dataset", "Account", "Job",
                                                      "AiEndpoint"}


def test_endpoint_is_optional_and_without_it_there_is_no_canary():
    planned = plan(stack([{"name": "taxi_tips", "endpoint": {"enabled": False}}]))
    assert not planned.of_type("gcp:vertex/aiEndpoint:AiEndpoint")
    assert [j.inputs["name"] for j in planned.of_type("gcp:cloudscheduler/job:Job")] == \
        ["fc-taxi-tips-train"]
    runner_roles = {r.inputs["role"] for r in planned.custom if r.inputs.get("member") == RUNNER}
    # no canary and no batch scoring (it scores with the endpoint's champion)
    assert not runner_roles & {"roles/bigquery.dataViewer", "roles/storage.objectUser",
                               "roles/bigquery.dataEditor"}
    assert "roles/storage.objectViewer" in runner_roles  # the baseline is read all the same


def test_mocks_refuse_what_gcp_refuses(monkeypatch):
    from infra.components import model_platform
    from pipelines.config import FullcycleError

    class BadNames(model_platform.ModelNames):  # only the component sees it, not the config
        bucket = property(lambda self: "Bad_Bucket!")

    monkeypatch.setattr(model_platform, "ModelNames", BadNames)
    with pytest.raises(FullcycleError, match=r"urn:pulumi:prod::fullcycle::fullcycle:infra:"
                                             r"ModelPlatform\$gcp:storage/bucket:Bucket::"
                                             r"taxi-tips-bucket: bucket name 'Bad_Bucket!'"):
        plan(stack([{"name": "taxi_tips"}]))


MONITORED = {"enabled": True, "alert_emails": ["ml-oncall@acme.com"],
             "notification_channels": ["projects/acme-ml-prod/notificationChannels/42"]}


def test_monitoring_alerts_go_only_where_the_stack_says():
    planned = plan(stack([{"name": "taxi_tips", "monitoring": MONITORED},
                          {"name": "basic_template"}]))
    jobs = planned.of_type("pulumi-python:dynamic:Resource")
    assert [j.name for j in jobs] == ["taxi-tips-monitoring"]  # unmonitored: no job
    settings = jobs[0].inputs["spec"]["settings"]
    assert settings["alert_emails"] == ["ml-oncall@acme.com"]
    assert settings["notification_channels"] == [
        "projects/acme-ml-prod/notificationChannels/42"]
    assert jobs[0].inputs["spec"]["labels"]["team"] == "ds"  # the stack's labels
    # taxi_tips reads a query: skew is measured against a view of it in its own dataset
    (view,) = [t for t in planned.of_type("gcp:bigquery/table:Table") if "view" in t.inputs]
    assert view.inputs["datasetId"] == "fc_taxi_tips" and view.inputs["tableId"] == \
        "training_data"
    assert "`acme-ml-prod.fc_taxi_tips`.taxi_trips" in view.inputs["view"]["query"]
    assert jobs[0].inputs["spec"]["training_data"] == \
        "bq://acme-ml-prod.fc_taxi_tips.training_data"
    from infra.render import render_plan

    shown = render_plan(planned)  # what `fullcycle infra plan` prints
    assert "Model Monitoring fc-taxi-tips-monitoring: skew vs bq://acme-ml-prod.fc_taxi_tips." \
           "training_data > 0.3, drift > 0.3, sample 0.8, every 24 h, alerts to " \
           "ml-oncall@acme.com, projects/acme-ml-prod/notificationChannels/42" in shown


def test_monitoring_needs_somewhere_to_alert_and_known_features():
    from pipelines.config import ConfigError

    with pytest.raises(ConfigError, match="alerts go nowhere"):
        stack([{"name": "taxi_tips", "monitoring": {"enabled": True}}])
    with pytest.raises(ConfigError, match=r"monitoring.features names 'fair', not a feature of "
                                          r"taxi_tips \(did you mean \"fare\"\?\)"):
        stack([{"name": "taxi_tips", "monitoring": {**MONITORED,
                                                    "features": {"fair": {"skew": 0.5}}}}])


def test_a_removed_model_keeps_its_data():
    """Dataset and bucket are retained on delete; schedules and the endpoint are not."""
    planned = plan(stack([{"name": "taxi_tips"}]))
    kept = {r.type.split(":")[-1] for r in planned.custom if r.retain_on_delete}
    assert kept == {"Dataset", "Bucket"}
    from infra.render import render_plan

    shown = [line for line in render_plan(planned).splitlines() if "kept when" in line]
    assert len(shown) == 2 and "fc_taxi_tips" in shown[0] + shown[1]


def test_the_image_is_pushed_by_the_deployer_and_pulled_by_runtime_accounts_only(many_models):
    """pulumi up (the deployer's credentials) pushes; no runtime identity may write the
    repository, and only the models' accounts are granted to read it (the runner's Cloud
    Run service pulls through the project's own service agent)."""
    planned = plan(stack([{"name": n} for n in many_models[:2]],
                         **{"fullcycle:runnerImage": None}))
    (image,) = planned.of_type("docker-build:index:Image")
    assert image.inputs["push"] is True
    assert image.inputs["tags"][0].startswith(
        "europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/runner:")
    grants = planned.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert {g.inputs["role"] for g in grants} == {"roles/artifactregistry.reader"}
    assert {g.inputs["member"] for g in grants} == {f"serviceAccount:{email(m)}"
                                                   for m in many_models[:2]}
    (service,) = planned.of_type("gcp:cloudrunv2/service:Service")
    container = service.inputs["template"]["containers"][0]
    assert container["image"].startswith("europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/"
                                         "runner@sha256:")  # the exact digest pushed
    envs = {e["name"]: e["value"] for e in container["envs"]}
    handed = json.loads(envs["FULLCYCLE_SETTINGS"])
    assert handed["runner_image"] == container["image"]
    assert [m["name"] for m in handed["models"]] == many_models[:2]


def test_a_scheduled_score_posts_scores_as_the_scheduler():
    planned = plan(stack([{"name": "taxi_tips", "scoring": {
        "schedule": "0 6 * * *", "time_zone": "Europe/Amsterdam"}}, {"name": "basic_template"}]))
    jobs = {j.inputs["name"]: j for j in planned.of_type("gcp:cloudscheduler/job:Job")}
    assert "fc-basic-template-score" not in jobs  # not scheduled: no job
    job = jobs["fc-taxi-tips-score"]
    target = job.inputs["httpTarget"]
    assert target["oidcToken"]["serviceAccountEmail"] == \
        "fc-scheduler@acme-ml-prod.iam.gserviceaccount.com", job.urn
    assert target["uri"] == f"{target['oidcToken']['audience']}/scores", job.urn
    assert target["httpMethod"] == "POST" and \
        json.loads(base64.b64decode(target["body"])) == {"model": "taxi_tips"}, job.urn
    assert (job.inputs["schedule"], job.inputs["timeZone"]) == ("0 6 * * *", "Europe/Amsterdam")
