"""The runner image's tag: a content hash of everything that goes into it.

The same tree gives the same tag (``pulumi up`` rebuilds nothing), a changed
file (the lock, the package, a model folder, the Dockerfile) a new one. The
files are those ``runner_image/Dockerfile`` copies into the image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipelines.stack.names import REPOSITORY

DOCKERFILE = "runner_image/Dockerfile"
# What the Dockerfile COPYs (the build context is the repository root).
IMAGE_INPUTS = ("pyproject.toml", "uv.lock", "README.md", DOCKERFILE, "pipelines", "infra")
IMAGE_NAME = "runner"


def content_tag(root: Path) -> str:
    """A hash of the image's inputs under ``root`` (file names and bytes), 16 hex digits."""
    digest = hashlib.sha256()
    for entry in IMAGE_INPUTS:
        path = root / entry
        files = [path] if path.is_file() else sorted(
            f for f in path.rglob("*")
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc")
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_repository(project: str, region: str) -> str:
    """The stack's Artifact Registry path of the runner image (without a tag)."""
    return f"{region}-docker.pkg.dev/{project}/{REPOSITORY}/{IMAGE_NAME}"
