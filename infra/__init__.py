"""Pulumi infrastructure: one ModelPlatform per model plus the shared Runner."""
