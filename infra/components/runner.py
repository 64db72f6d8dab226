"""The shared Runner: APIs, image repository, identities and the Cloud Run service.

Who can do what:
  - the runner's service account may create Vertex AI pipeline jobs and move
    endpoint traffic (``aiplatform.user``), run BigQuery jobs and read Cloud
    Monitoring (the canary's metrics), and - granted per model by ModelPlatform -
    act as each model's service account, read its request log and write its
    rollout state; nothing more;
  - the scheduler's service account, and the members the stack lists under
    ``fullcycle:invokers`` (an Airflow deployment's account), are the only
    identities allowed to invoke the runner (``run.invoker`` on this service);
    there is no public invoker.

Every resource of the stack waits for the APIs it needs (``apis``): a fresh
project's first ``pulumi up`` does not race their enablement.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp

from pipelines.stack import names
from pipelines.stack.config import SETTINGS_ENV, StackConfig

# Every API the plan and the runtime call. Dataflow also needs Compute Engine (its
# workers are VMs) and Cloud Logging (worker logs); the Vertex AI SDK checks who owns a
# run's pipeline bucket through Resource Manager (projects.get) before submitting.
APIS = ("aiplatform.googleapis.com", "artifactregistry.googleapis.com",
        "bigquery.googleapis.com", "cloudresourcemanager.googleapis.com",
        "cloudscheduler.googleapis.com", "compute.googleapis.com", "dataflow.googleapis.com",
        "iam.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com",
        "run.googleapis.com", "storage.googleapis.com")
# Project roles of the runner: submit pipeline runs and move endpoint traffic; query the
# request logs (the datasets are granted per model); read endpoint latency and errors.
RUNNER_ROLES = ("roles/aiplatform.user", "roles/bigquery.jobUser", "roles/monitoring.viewer")


def _member_slug(member: str) -> str:
    """A Pulumi resource name part for an IAM member (``user:a@b.c`` -> ``user-a-b-c``);
    the kind stays in it, so ``user:x@y`` and ``serviceAccount:x@y`` differ."""
    return re.sub(r"[^a-z0-9]+", "-", member.lower()).strip("-")


class Runner(pulumi.ComponentResource):
    """Everything shared by the models of one stack."""

    @staticmethod
    def _build_image(name: str, project: str, region: str,
                     repository: gcp.artifactregistry.Repository,
                     child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """Builds and pushes the runner image from this tree, tagged by its content hash
        (an unchanged tree is no rebuild); returns its digest reference."""
        import pulumi_docker_build as docker_build

        from pipelines.stack.config import PROJECT_ROOT
        from pipelines.stack.image import DOCKERFILE, content_tag, image_repository

        built = docker_build.Image(
            f"{name}-image",
            tags=[f"{image_repository(project, region)}:{content_tag(PROJECT_ROOT)}"],
            context=docker_build.BuildContextArgs(location=str(PROJECT_ROOT)),
            dockerfile=docker_build.DockerfileArgs(location=str(PROJECT_ROOT / DOCKERFILE)),
            platforms=[docker_build.Platform.LINUX_AMD64], push=True,
            registries=[docker_build.RegistryArgs(address=f"{region}-docker.pkg.dev")],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[repository])))
        return built.ref

    url: pulumi.Output[str]
    image: pulumi.Output[str]
    apis: list[gcp.projects.Service]
    service_account_email: pulumi.Output[str]
    scheduler_account_email: pulumi.Output[str]
    repository_id: pulumi.Output[str]

    def __init__(self, name: str, *, project: str, region: str, image: str | None, stack: str,
                 labels: dict[str, str], settings: StackConfig,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("fullcycle:infra:Runner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        services = [gcp.projects.Service(f"{name}-api-{api.split('.')[0]}", project=project,
                                         service=api, disable_on_destroy=False, opts=child)
                    for api in APIS]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=services)
        child = after_apis  # nothing below may race the enablement of an API

        repository = gcp.artifactregistry.Repository(
            f"{name}-images", project=project, location=region, repository_id=names.REPOSITORY,
            format="DOCKER", description="fullcycle runner and pipeline component images",
            labels=labels, opts=after_apis)

        image_ref: pulumi.Input[str] = image or self._build_image(
            name, project, region, repository, child)
        runner_account = gcp.serviceaccount.Account(
            f"{name}-sa", project=project, account_id=names.RUNNER_ACCOUNT,
            display_name="fullcycle runner: compiles and submits pipeline runs", opts=child)
        scheduler_account = gcp.serviceaccount.Account(
            f"{name}-scheduler-sa", project=project, account_id=names.SCHEDULER_ACCOUNT,
            display_name="fullcycle scheduler: the only identity that may invoke the runner",
            opts=child)
        runner_member = runner_account.email.apply(lambda e: f"serviceAccount:{e}")
        for role in RUNNER_ROLES:
            gcp.projects.IAMMember(f"{name}-sa-{role.split('/')[1].replace('.', '-')}",
                                   project=project, role=role, member=runner_member, opts=child)

        service = gcp.cloudrunv2.Service(
            f"{name}-service", project=project, location=region, name=names.RUNNER_SERVICE,
            ingress="INGRESS_TRAFFIC_ALL",  # reachable by Cloud Scheduler; IAM decides who may call
            deletion_protection=False, labels=labels,
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                service_account=runner_account.email,
                timeout="300s",
                containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(
                    image=image_ref,
                    commands=["fullcycle"],  # the image's entrypoint is Beam's, for Dataflow
                    args=["serve-runner", "--backend", "vertex"],
                    envs=[gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=k, value=v)
                          for k, v in (("GOOGLE_CLOUD_PROJECT", project),
                                       ("FULLCYCLE_REGION", region),
                                       ("FULLCYCLE_STACK", stack),
                                       # the stack's settings, with the image it runs: the
                                       # runner reads them, never a stack file of its image
                                       (SETTINGS_ENV, pulumi.Output.from_input(image_ref)
                                        .apply(settings.settings_json)))],
                    resources=gcp.cloudrunv2.ServiceTemplateContainerResourcesArgs(
                        limits={"cpu": "2", "memory": "4Gi"}),
                )],
            ),
            opts=after_apis)
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-invoker", project=project, location=region, name=service.name,
            role="roles/run.invoker",
            member=scheduler_account.email.apply(lambda e: f"serviceAccount:{e}"), opts=child)
        # Callers the stack names besides Cloud Scheduler (an Airflow deployment's account).
        for member in settings.invokers:
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{_member_slug(member)}", project=project, location=region,
                name=service.name, role="roles/run.invoker", member=member, opts=child)

        self.image = pulumi.Output.from_input(image_ref)
        self.url = service.uri
        self.service_account_email = runner_account.email
        self.scheduler_account_email = scheduler_account.email
        self.repository_id = repository.repository_id
        self.apis = services
        self.register_outputs({"url": self.url, "image": self.image,
                               "service_account": self.service_account_email,
                               "scheduler_account": self.scheduler_account_email,
                               "repository": self.repository_id})
