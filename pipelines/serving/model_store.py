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
from pipelines.features.kinds import MISSING_INT


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
    """A SavedModel's ``serving_default`` signature, fed JSON-like instances.

    A feature that is absent from an instance or null is missing: it is given to
    the signature as its missing marker, and the model's transform applies its
    training rule. A model whose ``assets.extra/serving.json`` says a feature
    may not be missing refuses such an instance, naming the feature.
    """

    def __init__(self, path: str | Path):
        import tensorflow as tf

        self.path = path  # a local Path, or a gs:// URI kept as the string it is
        self._model = tf.saved_model.load(str(path))
        self._fn = self._model.signatures["serving_default"]
        self._specs = self._fn.structured_input_signature[1]
        # An export without serving.json: every feature must be sent (null is its marker).
        info = _serving_info(path)
        self._required = frozenset(name for name in self._specs
                                   if not info.get(name, {}).get("optional", False))
        self._null_is_missing = bool(info)

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
        """One prediction per instance; names the feature and value on bad input."""
        return self.predict_array(instances).tolist()

    def predict_array(self, instances: Sequence[dict[str, Any]]):
        """:meth:`predict` as a NumPy array (one row per instance)."""
        import numpy as np
        import tensorflow as tf

        if not instances:
            return np.zeros((0,), np.float32)
        for i, instance in enumerate(instances):
            missing = sorted(name for name in self._required if name not in instance or (
                self._null_is_missing and instance[name] is None))
            if missing:
                raise FullcycleError(
                    f"instance {i} lacks feature(s) {', '.join(missing)}, and the model has no "
                    "rule for a missing value of them: send a value; the model needs: "
                    f"{', '.join(self.feature_names)}")
        feeds = {}
        for name, spec in self._specs.items():
            array = column(name, spec.dtype.name, spec.shape.rank == 2,
                           [instance.get(name) for instance in instances])
            feeds[name] = tf.constant(array.tolist() if spec.dtype == tf.string else array,
                                      spec.dtype)
        return self._fn(**feeds)["outputs"].numpy()


def _serving_info(path: str | Path) -> dict[str, dict]:
    """The features of ``assets.extra/serving.json`` (older exports have none: {}).

    ``path`` may be a ``gs://`` URI: it is joined as a string and read with
    ``tf.io.gfile`` (``Path`` would collapse ``gs://b/x`` to ``gs:/b/x``).
    """
    import tensorflow as tf

    info = f"{str(path).rstrip('/')}/assets.extra/serving.json"
    if not tf.io.gfile.exists(info):
        return {}
    with tf.io.gfile.GFile(info) as f:
        return json.load(f)["features"]


def _scalar_error(name: str, index: int, value, expected: str) -> FullcycleError:
    return FullcycleError(f"feature {name!r} of instance {index}: {value!r} is not {expected}")


def column(name: str, dtype: str, sequence: bool, values: list):
    """One feature's values as the serving signature takes them; missing (absent or null)
    values become the signature's missing marker (NaN, -2**63 or ''). Raises a
    FullcycleError naming the feature, the instance and the value when one cannot be read."""
    import numpy as np

    kind = "float" if dtype.startswith("float") else "int" if dtype.startswith("int") else "string"
    missing = {"float": np.nan, "int": MISSING_INT, "string": ""}[kind]

    def scalar(index: int, value):
        if value is None:
            return missing
        if kind == "string":
            if isinstance(value, (list, dict)):
                raise _scalar_error(name, index, value, "one string")
            return str(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _scalar_error(name, index, value, f"one {kind} number")
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise _scalar_error(name, index, value, "an integer")
            if not MISSING_INT < int(value) < 2**63:
                raise _scalar_error(name, index, value, "an int64 (|value| < 2**63)")
            return int(value)
        return float(value)

    if not sequence:
        return np.asarray([scalar(i, v) for i, v in enumerate(values)],
                          dtype=object if kind == "string" else dtype)
    rows = []
    for i, v in enumerate(values):
        items = [] if v is None else v if isinstance(v, list) else [v]
        rows.append([scalar(i, x) for x in items])
    width = max(1, *(len(r) for r in rows))
    array = np.full((len(rows), width), missing, dtype=object if kind == "string" else dtype)
    for row, items in zip(array, rows, strict=True):
        row[:len(items)] = items
    return array
