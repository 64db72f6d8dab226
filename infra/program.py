"""The Pulumi program: the shared Runner, then one ModelPlatform per model in the stack."""

from __future__ import annotations

import pulumi

from infra.components import ModelPlatform, Runner
from pipelines.cloud.monitoring import spec_of
from pipelines.config.registry import load_config
from pipelines.stack.config import StackConfig, labels
from pipelines.stack.names import slug


def build(config: StackConfig) -> dict[str, ModelPlatform]:
    """Declares every resource of the stack and exports the outputs operators need."""
    runner = Runner("runner", project=config.project, region=config.region,
                    image=config.runner_image, stack=config.stack, labels=labels(config),
                    settings=config)
    platforms = {}
    for entry in config.models:
        platforms[entry.name] = ModelPlatform(
            slug(entry.name), entry=entry, project=config.project,
            region=config.region, labels=labels(config, entry.name), runner_url=runner.url,
            runner_account_email=runner.service_account_email,
            scheduler_account_email=runner.scheduler_account_email,
            repository_id=runner.repository_id, monitoring=spec_of(config, entry.name),
            source_query=load_config(entry.name).source.query, apis=runner.apis)
    pulumi.export("runner_url", runner.url)
    pulumi.export("runner_image", runner.image)
    pulumi.export("models", {name: {"bucket": p.bucket_name, "dataset": p.dataset_id,
                                    "service_account": p.service_account_email,
                                    "endpoint": p.endpoint_name}
                             for name, p in platforms.items()})
    return platforms
