"""A model's tuning result: the values its runs train with, and the trials that chose them.

The Tuner (``pipeline.tuner``) writes the best values as the config takes them
and every trial with its values, objective, seconds and status; the
HyperparametersRecorder then copies them under
``<root>/<version>/`` and points ``<root>/hyperparameters.json`` at them (as the
data baseline's ``baseline.json``): a run's pipeline imports the pointed-at
folder into the Trainer with an ``Importer``. The Trainer reads exactly one file
in that folder, and an Importer keys on the URI, so each result has its own folder.
The root is ``.fullcycle/hyperparameters/<model>`` or ``gs://<bucket>/hyperparameters``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

POINTER_FILE = "hyperparameters.json"
BEST_FILE = "best_hyperparameters.txt"  # the name TFX's Tuner gives it
TRIALS_FILE = "trials.json"


@dataclass(frozen=True)
class TunedHyperparameters:
    """One tuning result: the values a run trains with, and the trials that chose them."""

    version: str
    recorded_at: float
    uri: str  # the folder holding only best_hyperparameters.txt (the Trainer's input)
    values: dict[str, Any]  # what runs apply to the config; {} when its own were kept
    objective: str
    score: float | None  # the mean over folds of the adopted trial (or the config's)
    trials: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""  # the Tuner's artifact it was copied from
    adopted: bool = True  # False: no trial beat the config's own values in every fold
    decision: str = ""  # why the config's values were kept (empty when adopted)


    def as_dict(self) -> dict:
        return asdict(self)


def used_tuned_values(tuned: dict[str, Any] | None) -> bool:
    """Whether a tuning result (``TunedHyperparameters.as_dict()``) changes what runs train
    with: False when there is none or it kept the config's own values."""
    return bool(tuned and tuned.get("adopted", True) and tuned.get("values"))


def tunable_names(tuned: dict[str, Any]) -> list[str]:
    """The tunables a result's trials set, in the order they first appear."""
    return list(dict.fromkeys(name for t in tuned["trials"] for name in t["values"]))


def read_hyperparameters(root: str) -> TunedHyperparameters | None:
    """The tuning result recorded under ``root``; None when the model was never tuned.

    A local root is read without TensorFlow (an unchanged run is recognised before
    any heavy import); a ``gs://`` one through ``tf.io.gfile``.
    """
    path = os.path.join(root, POINTER_FILE)
    if not root.startswith("gs://"):
        return TunedHyperparameters(**json.loads(Path(path).read_text())) \
            if Path(path).exists() else None
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    return TunedHyperparameters(**_read_json(path))


def _read_json(path: str) -> Any:
    import tensorflow as tf

    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def write_json(path: str, data: Any) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(data, f, indent=1, default=str)


def record_hyperparameters(root: str, best_uri: str, results_uri: str,
                           now: float | None = None) -> TunedHyperparameters:
    """Copies a Tuner's best values and trials under ``root``, then moves the pointer."""
    import tensorflow as tf

    now = time.time() if now is None else now
    version = f"{int(now * 1000)}"
    best = _read_json(os.path.join(best_uri, BEST_FILE))
    results = _read_json(os.path.join(results_uri, TRIALS_FILE))
    folder = os.path.join(root, version, "hyperparameters")
    tf.io.gfile.makedirs(folder)
    write_json(os.path.join(folder, BEST_FILE), best)
    write_json(os.path.join(root, version, TRIALS_FILE), results)
    tuned = TunedHyperparameters(
        version=version, recorded_at=now, uri=folder, values=best["values"],
        objective=results["objective"], score=results["best_score"], trials=results["trials"],
        source=best_uri, adopted=results.get("adopted", True),
        decision=results.get("decision", ""))
    pointer = os.path.join(root, POINTER_FILE)
    # A temporary object of this result's own: two tunings recording at once must not
    # rename each other's (the second rename would fail its tuning on a missing object).
    staged = f"{pointer}.{version}.tmp"
    write_json(staged, tuned.as_dict())
    tf.io.gfile.rename(staged, pointer, overwrite=True)
    return tuned


