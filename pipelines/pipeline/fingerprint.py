"""Fingerprints of code and runs: what decides whether work can be reused.

Kept free of TensorFlow and TFX imports: an unchanged run is recognised before
any heavy library loads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipelines.config.model_config import ModelConfig
from pipelines.config.registry import model_dir

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The code Transform and Trainer execute (besides the model folder).
TRAINING_CODE = ("compat.py", "config", "features", "trainer")
# Everything that shapes what a pipeline run does.
PIPELINE_CODE = (*TRAINING_CODE, "data", "pipeline")


def code_fingerprint(model: str, parts: tuple[str, ...] = TRAINING_CODE) -> str:
    """A hash of the package's Python source in ``parts`` plus the model folder.

    Transform and Trainer reference code by dotted path, which TFX's cache cannot
    see; this hash in their ``custom_config`` re-runs them when that code changes.
    """
    digest = hashlib.sha256()
    files: list[tuple[Path, Path]] = []  # (root the name is relative to, file)
    for entry in parts:
        path = PACKAGE_DIR / entry
        files += [(PACKAGE_DIR, f) for f in ([path] if path.is_file() else
                                             sorted(path.rglob("*.py")))]
    folder = model_dir(model)  # inside the package or not (a models package elsewhere)
    files += [(folder.parent, f) for f in sorted(folder.rglob("*"))]
    for root, path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_key(config: ModelConfig, overrides: dict[str, Any] | None, split_sql: list[str],
            data_fingerprint: str, hyperparameters: str | None = None) -> str:
    """Same key, same run: config, overrides, split SQL, source rows, pipeline code and
    the tuning result trained with (its version)."""
    payload = {"config": config.model_dump(mode="json"), "overrides": overrides or {},
               "hyperparameters": hyperparameters,
               "splits": split_sql, "data": data_fingerprint,
               "code": code_fingerprint(config.name, PIPELINE_CODE)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
