"""Pulumi ComponentResources: the shared Runner and one ModelPlatform per model."""

from infra.components.model_platform import ModelPlatform
from infra.components.runner import Runner

__all__ = ["ModelPlatform", "Runner"]
