"""`fullcycle infra plan` prints the full plan of the committed stack."""

import json

from typer.testing import CliRunner

from pipelines.cli.main import app


def test_plan_of_dev_stack():
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "dev"])
    assert result.exit_code == 0, result.output
    assert "Plan for stack 'dev' (project fullcycle-dev, region europe-west4): 67 resources" \
        in result.output
    assert "shared: runner (21 resources)" in result.output  # with the image pulumi up builds
    assert "model basic_template (23 resources)" in result.output
    assert "model taxi_tips (23 resources)" in result.output
    assert "fc_taxi_tips (US)" in result.output and "'30 4 * * 1' America/Chicago" in result.output


def test_plan_of_unknown_stack_is_a_clear_error():
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "prd"])
    assert result.exit_code == 2 and "unknown stack 'prd'" in result.output


def test_plan_json_lists_resources_for_scripts():
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "dev", "--json"])
    assert result.exit_code == 0, result.output
    resources = json.loads(result.output)
    buckets = [r for r in resources if r["type"] == "gcp:storage/bucket:Bucket"]
    assert {b["model"] for b in buckets} == {"basic_template", "taxi_tips"}
    assert all(b["retain_on_delete"] for b in buckets)
    assert buckets[0]["inputs"]["publicAccessPrevention"] == "enforced"


def test_plan_json_lists_the_image_and_its_content_tag():
    from pipelines.stack.config import PROJECT_ROOT
    from pipelines.stack.image import content_tag

    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "dev", "--json"])
    (image,) = [r for r in json.loads(result.output) if r["type"] == "docker-build:index:Image"]
    assert image["inputs"]["tags"] == [
        f"europe-west4-docker.pkg.dev/fullcycle-dev/fullcycle/runner:{content_tag(PROJECT_ROOT)}"]
    assert image["inputs"]["push"] is True
    assert image["inputs"]["dockerfile"]["location"].endswith("runner_image/Dockerfile")
