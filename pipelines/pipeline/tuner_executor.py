"""TFX's Tuner with an executor that records what a person reads about the search.

TFX's own executor writes keras-tuner's text for every value (a list of units as
``"[32, 16]"``) and only completed trials' scores. This one decides what runs
train with (:func:`choose`: a trial is adopted only if it beats the config's own
values in every fold), writes those values as the model config takes them in the
file the Trainer reads (none when the config's are kept), and every trial with
its values, objective per fold and on average, seconds and status (a failed
trial's error too); it fails clearly when no trial completed. Imports keras-tuner: loaded only
by the tuning pipeline.
"""

from __future__ import annotations

import os
from typing import Any

from tfx.components.tuner import component as tuner_component
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys

from pipelines.pipeline.hyperparameters import BEST_FILE, TRIALS_FILE, write_json


def trial_records(tuner) -> list[dict[str, Any]]:
    """Every trial of a FullcycleTuner: id, values, objective, seconds, status (and error)."""
    records = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        record = {"trial_id": trial_id, "values": tuner.values(trial), "score": trial.score,
                  "fold_scores": tuner.fold_scores.get(trial_id),
                  "seconds": tuner.seconds.get(trial_id), "status": trial.status}
        if trial.message:
            lines = [line for line in str(trial.message).strip().splitlines() if line.strip()]
            record["error"] = lines[-1] if lines else ""
        records.append(record)
    return records


def beats(score: float, bar: float, direction: str) -> bool:
    """Whether ``score`` is strictly better than ``bar`` (``direction``: 'min' or 'max')."""
    return score < bar if direction == "min" else score > bar


KEPT = "no trial beat the config's own values in every fold"


def choose(records: list[dict[str, Any]], reference: dict[str, Any],
           direction: str) -> tuple[dict[str, Any], bool]:
    """(the trial runs train with, whether it was adopted over the config's own values).

    Adopted: the best on average of the trials that beat the config's values in every
    fold. One lucky fold (a few hundred rows, one training) moves an average, not every
    fold; when none does, the config's own values are kept.
    """
    bar = reference["fold_scores"]
    clear = [r for r in records
             if r["status"] == "COMPLETED" and r.get("fold_scores") is not None
             and len(r["fold_scores"]) == len(bar)
             and all(beats(s, b, direction) for s, b in zip(r["fold_scores"], bar, strict=True))]
    if not clear:
        return reference, False
    pick = min if direction == "min" else max
    return pick(clear, key=lambda r: r["score"]), True


class Executor(tuner_executor.Executor):
    """Runs the search as TFX's executor does; writes config values and every trial."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX's name
        tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir(),
                                      print_tuning_summary=False)
        records = trial_records(tuner)
        best = tuner.oracle.get_best_trials(1)
        if not best or best[0].score is None:
            errors = [r.get("error", r["status"]) for r in records]
            raise RuntimeError(f"no tuning trial completed ({len(records)} tried); the first "
                               f"error: {errors[0] if errors else 'none'}")
        direction = tuner.oracle.objective.direction
        reference = tuner.reference  # the config's own values: kept unless clearly beaten
        records.insert(0, reference)
        found, adopted = choose(records[1:], reference, direction)
        best_uri = artifact_utils.get_single_uri(output_dict[keys.BEST_HYPERPARAMETERS_KEY])
        results_uri = artifact_utils.get_single_uri(output_dict[keys.TUNER_RESULTS_KEY])
        space = tuner.oracle.get_space().get_config()["space"]
        # Kept: no values, so a run trains with the config exactly as it is.
        write_json(os.path.join(best_uri, BEST_FILE),
                   {"space": space, "values": found["values"] if adopted else {}})
        write_json(os.path.join(results_uri, TRIALS_FILE), {
            "objective": tuner.oracle.objective.name, "direction": direction,
            "best_trial": found["trial_id"], "best_score": found["score"],
            "adopted": adopted, "decision": "" if adopted else KEPT, "trials": records})


class Tuner(tuner_component.Tuner):
    """TFX's Tuner component, run by :class:`Executor`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
