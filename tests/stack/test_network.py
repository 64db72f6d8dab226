"""Regions, Dataflow networks and invokers: validated like the rest of the stack config."""

import pytest
import yaml

from pipelines.config import ConfigError
from pipelines.stack.config import PROJECT_ROOT, StackConfig
from pipelines.stack.regions import PREDICTION_REGISTRIES, VERTEX_REGIONS, prediction_registry
from tests.support.stacks import stack

# Google's "Vertex AI locations" page, by the continent each region is in.
AMERICAS = ["us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
            "us-west2", "us-west3", "us-west4", "northamerica-northeast1",
            "northamerica-northeast2", "southamerica-east1", "southamerica-west1"]
EMEA = ["europe-central2", "europe-north1", "europe-southwest1", "europe-west1", "europe-west2",
        "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9",
        "europe-west12", "me-central1", "me-central2", "me-west1", "africa-south1"]
APAC = ["asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
        "asia-south1", "asia-southeast1", "asia-southeast2", "australia-southeast1",
        "australia-southeast2"]


@pytest.mark.parametrize("region, registry", [*((r, "us") for r in AMERICAS),
                                              *((r, "europe") for r in EMEA),
                                              *((r, "asia") for r in APAC)])
def test_each_vertex_region_pulls_prediction_containers_from_an_existing_registry(region,
                                                                                  registry):
    from pipelines.cloud.target import CloudTarget

    assert prediction_registry(region) == registry
    target = CloudTarget.of(stack([{"name": "taxi_tips"}], **{"gcp:region": region}),
                            "taxi_tips")
    assert target.serving_image.startswith(f"{registry}-docker.pkg.dev/vertex-ai/prediction/")


def test_the_map_covers_exactly_the_listed_regions_and_three_registries():
    assert sorted(VERTEX_REGIONS) == sorted(AMERICAS + EMEA + APAC)
    assert PREDICTION_REGISTRIES == ("us", "europe", "asia")


def test_a_region_without_vertex_ai_is_refused_with_the_closest_one():
    with pytest.raises(ConfigError, match=r"gcp:region: unknown Vertex AI region 'europe-west5' "
                                          r"\(did you mean \"europe-west\d\"\?\)"):
        stack([{"name": "taxi_tips"}], **{"gcp:region": "europe-west5"})


def test_dataflow_network_settings_become_beam_options():
    from pipelines.cloud.target import CloudTarget

    subnetwork = "regions/europe-west4/subnetworks/ml-private"
    config = stack([{"name": "taxi_tips"}],
                   **{"fullcycle:dataflow": {"subnetwork": subnetwork, "use_public_ips": False}})
    args = CloudTarget.of(config, "taxi_tips").beam_pipeline_args
    assert f"--subnetwork={subnetwork}" in args and "--no_use_public_ips" in args
    from apache_beam.options.pipeline_options import PipelineOptions, WorkerOptions

    options = PipelineOptions(args).view_as(WorkerOptions)  # Beam reads them as meant
    assert options.subnetwork == subnetwork and options.use_public_ips is False
    default = CloudTarget.of(stack([{"name": "taxi_tips"}]), "taxi_tips").beam_pipeline_args
    assert not [a for a in default if "subnetwork" in a or "public_ips" in a]


@pytest.mark.parametrize("subnetwork", [
    "https://www.googleapis.com/compute/v1/projects/acme-host-net/regions/europe-west4/"
    "subnetworks/ml", "projects/acme-host-net/regions/europe-west4/subnetworks/ml"])
def test_shared_vpc_subnetworks_are_accepted(subnetwork):
    from pipelines.cloud.target import CloudTarget

    config = stack([{"name": "taxi_tips"}], **{"fullcycle:dataflow": {"subnetwork": subnetwork}})
    assert config.dataflow.subnetwork == subnetwork
    # Dataflow takes regions/... or the complete URL (a Shared VPC one must be the URL)
    assert "--subnetwork=https://www.googleapis.com/compute/v1/projects/acme-host-net/regions/" \
           "europe-west4/subnetworks/ml" in CloudTarget.of(config, "taxi_tips").beam_pipeline_args


def test_bad_dataflow_settings_name_the_key_and_value():
    with pytest.raises(ConfigError, match=r"fullcycle:dataflow.subnetwork: .*'ml-private' is "
                                          r"not regions/<region>/subnetworks/<name>"):
        stack([{"name": "taxi_tips"}], **{"fullcycle:dataflow": {"subnetwork": "ml-private"}})
    with pytest.raises(ConfigError, match=r"is in region 'us-central1'; Dataflow workers run "
                                          r"in the stack's region 'europe-west4'"):
        stack([{"name": "taxi_tips"}], **{"fullcycle:dataflow": {
            "subnetwork": "regions/us-central1/subnetworks/ml"}})
    with pytest.raises(ConfigError, match=r"fullcycle:dataflow.use_public_ip: unknown key "
                                          r"\(did you mean \"use_public_ips\"\?\)"):
        stack([{"name": "taxi_tips"}], **{"fullcycle:dataflow": {"use_public_ip": False}})


def test_every_stack_key_is_declared_in_pulumi_yaml():
    from pipelines.stack.config import _KEYS

    declared = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]
    ours = {key for key in _KEYS.values() if key.startswith("fullcycle:")}
    assert ours <= set(declared), sorted(ours - set(declared))
    for key in ("fullcycle:invokers", "fullcycle:dataflow"):
        assert "description" in declared[key] and "default" in declared[key], key


def test_settings_handed_to_the_runner_keep_network_and_invokers():
    config = stack([{"name": "taxi_tips"}], **{
        "fullcycle:dataflow": {"use_public_ips": False},
        "fullcycle:invokers": ["serviceAccount:airflow@acme-composer.iam.gserviceaccount.com"]})
    handed = StackConfig.model_validate_json(config.settings_json("img"))
    assert handed.dataflow.use_public_ips is False and handed.invokers == config.invokers


def test_pulumi_up_reads_invokers_and_dataflow_from_the_stack():
    """``from_pulumi`` (what ``pulumi up`` runs) reads the optional keys too."""
    import json

    import pulumi
    from pulumi.runtime import set_all_config

    class NoResources(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return args.name, dict(args.inputs)

        def call(self, args):
            return {}, None

    pulumi.runtime.set_mocks(NoResources(), project="fullcycle", stack="prod", preview=False)
    member = "serviceAccount:airflow@acme-composer.iam.gserviceaccount.com"
    set_all_config({"gcp:project": "acme-ml-prod", "gcp:region": "europe-west4",
                    "fullcycle:models": json.dumps([{"name": "taxi_tips"}]),
                    "fullcycle:invokers": json.dumps([member]),
                    "fullcycle:dataflow": json.dumps({"use_public_ips": False})})
    try:
        config = StackConfig.from_pulumi()
    finally:
        set_all_config({})
    assert config.stack == "prod" and config.invokers == (member,)
    assert config.dataflow.use_public_ips is False
