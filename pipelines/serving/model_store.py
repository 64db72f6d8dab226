"""Pushed models on disk: find the served version and predict with it.

The filesystem Pusher writes each blessed model to ``<serving_model_dir>/<version>``
(a timestamp); the served model is the highest version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.config.errors import FullcycleError


def pushed_versions(serving_model_dir: Path) -> list[Path]:
    """Pushed model versions, oldest first."""
    if not serving_model_dir.is_dir():
        return []
    return sorted((p for p in serving_model_dir.iterdir() if p.name.isdigit()),
                  key=lambda p: int(p.name))


def served_version(serving_model_dir: Path, model: str) -> Path:
    """The served (latest pushed) version; a clear error when none was pushed."""
    versions = pushed_versions(serving_model_dir)
    if not versions:
        raise FullcycleError(f"model {model!r} has no pushed version in {serving_model_dir}; "
                             f"run `fullcycle run {model}` first")
    return versions[-1]


def read_instances(path: Path) -> list[dict[str, Any]]:
    """Instances from a JSON file: a list of objects, or ``{"instances": [...]}``."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FullcycleError(f"instances file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise FullcycleError(f"instances file {path} is not valid JSON: {err}") from None
    instances = data.get("instances") if isinstance(data, dict) else data
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise FullcycleError(f"instances file {path} must hold a list of objects "
                             '(or {"instances": [...]})')
    return instances


class LoadedModel:
    """A SavedModel's ``serving_default`` signature, fed JSON-like instances."""

    def __init__(self, path: Path):
        import tensorflow as tf

        self.path = path
        self._model = tf.saved_model.load(str(path))
        self._fn = self._model.signatures["serving_default"]
        self._specs = self._fn.structured_input_signature[1]
        self._needed = frozenset(self._specs)

    def warm_up(self) -> None:
        """One prediction on a made-up instance, so the first real request is not the slow one."""
        import tensorflow as tf

        instance = {name: "" if spec.dtype == tf.string else
                    ([0] if spec.shape.rank == 2 else 0) for name, spec in self._specs.items()}
        self.predict_array([instance])

    @property
    def feature_names(self) -> list[str]:
        return sorted(self._specs)

    def predict(self, instances: Sequence[dict[str, Any]]) -> list:
        """One prediction per instance; names the missing or unknown feature on bad input."""
        return self.predict_array(instances).tolist()

    def predict_array(self, instances: Sequence[dict[str, Any]]):
        """:meth:`predict` as a NumPy array (one row per instance)."""
        import numpy as np
        import tensorflow as tf

        if not instances:
            return np.zeros((0,), np.float32)
        needed = self._needed
        for i, instance in enumerate(instances):
            if not needed <= instance.keys():
                missing = sorted(needed - set(instance))
                raise FullcycleError(f"instance {i} lacks feature(s) {', '.join(missing)}; "
                                     f"the model needs: {', '.join(self.feature_names)}")
        feeds = {}
        for name, spec in self._specs.items():
            values = [instance[name] for instance in instances]
            try:
                if spec.dtype == tf.string:
                    feeds[name] = tf.constant([str(v) for v in values], tf.string)
                elif spec.shape.rank == 2:  # a sequence: padded with NaN (missing)
                    rows = [[] if v is None else v if isinstance(v, list) else [v]
                            for v in values]
                    width = max(1, *(len(r) for r in rows))
                    array = np.full((len(rows), width), np.nan, spec.dtype.as_numpy_dtype)
                    for row, items in zip(array, rows, strict=True):
                        row[:len(items)] = [np.nan if x is None else x for x in items]
                    feeds[name] = tf.constant(array)
                else:
                    array = np.asarray([np.nan if v is None else v for v in values],
                                       dtype=spec.dtype.as_numpy_dtype)
                    feeds[name] = tf.constant(array)
            except (TypeError, ValueError) as err:
                raise FullcycleError(f"feature {name!r}: values {values[:3]}... cannot be "
                                     f"read as {spec.dtype.name}: {err}") from None
        return self._fn(**feeds)["outputs"].numpy()
