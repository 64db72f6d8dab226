"""Hyperparameter tuning: a search space over known tunables, and how a result is applied.

``Tuning(search_space={"learning_rate": LogUniform(1e-4, 1e-1),
"dnn_hidden_units": Choice([[16, 8], [32, 16]])}, max_trials=6)`` on a model
config makes ``fullcycle tune MODEL`` try that many sets of values, each trained
as a run trains (or ``trial_train_steps`` steps), by k-fold cross-validation on
the train split: the split is cut into ``folds`` parts by the same hash as the
splits, and each set of values is trained once per fold on the other folds and
scored on that fold's rows (the eval split, which the Evaluator gates on, is never
read). The config's own values are scored the same way first, and the best trial
is adopted only if it beats them in every fold: a trial that wins on average by
the luck of one fold does not replace what the model trains with. The result is
recorded (adopted values, or the config's kept), and every later ``fullcycle
run`` trains with it; scheduled runs never tune.

A name in the search space is a *tunable*: a setting of the prebuilt models
(``TUNABLES``), applied to the config as the same field a data scientist would
edit by hand, so every candidate value is checked by the config's own
validation before anything runs. A folder's own ``build_keras_model`` (model.py)
tunes its own settings: it declares each in ``TUNABLES = {"l2": Annotated[float,
Field(ge=0)]}`` (a name and a type pydantic checks), reads them as
``config.model_args["l2"]``, and the config gives each tuned one its own value in
``model_args`` (the bar trials must beat); the loader checks the values and every
candidate against those types (``pipelines.config.registry``).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from pipelines.config.errors import ConfigError, not_allowed, problem_text

# A model config (``pipelines.config.model_config.ModelConfig``, which holds a Tuning:
# named here by its base class, so the two modules do not import each other).
AnyConfig = BaseModel

# Tunable name -> where its value goes in the model config (a path of fields).
TUNABLES: dict[str, tuple[str, ...]] = {
    "learning_rate": ("training_args", "optimizer_kwargs", "learning_rate"),
    "dnn_hidden_units": ("training_args", "dnn_hidden_units"),
    "dropout": ("training_args", "dropout"),
    "layer_activation": ("training_args", "layer_activation"),
    "optimizer": ("training_args", "optimizer"),
    "rnn_units": ("training_args", "rnn_units"),
    "rnn_cell": ("training_args", "rnn_cell"),
    "train_batch_size": ("train_batch_size",),
}
# Tunables that take any float in a range (the others are a choice of values).
CONTINUOUS = ("dropout", "learning_rate")
ALGORITHMS = ("random", "bayesian")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(_Frozen):
    """One of ``values`` (tried in no particular order): ``Choice([32, 64, 128])``."""

    kind: Literal["choice"] = "choice"
    values: tuple[Any, ...] = Field(min_length=1)

    def __init__(self, values: Any = None, /, **data: Any):
        super().__init__(**({"values": values} if values is not None else {}), **data)

    def candidates(self) -> tuple[Any, ...]:
        return self.values

    def __str__(self) -> str:
        return f"Choice({list(self.values)})"


class Uniform(_Frozen):
    """Any float from ``low`` to ``high``, evenly: ``Uniform(0, 0.5)``."""

    kind: Literal["uniform"] = "uniform"
    low: float
    high: float

    def __init__(self, low: float | None = None, high: float | None = None, /, **data: Any):
        given = {k: v for k, v in (("low", low), ("high", high)) if v is not None}
        super().__init__(**given, **data)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(f"{type(self).__name__}: low {self.low} must be below high "
                             f"{self.high} (both finite)")
        return self

    def candidates(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.low:g}, {self.high:g})"


class LogUniform(Uniform):
    """Any float from ``low`` to ``high``, even in log scale: ``LogUniform(1e-4, 1e-1)``."""

    kind: Literal["log_uniform"] = "log_uniform"  # type: ignore[assignment]

    @model_validator(mode="after")
    def _positive(self) -> LogUniform:
        if self.low <= 0:
            raise ValueError(f"LogUniform: low {self.low} must be above 0")
        return self


SearchParameter = Annotated[Choice | Uniform | LogUniform, Field(discriminator="kind")]


class Tuning(_Frozen):
    """What ``fullcycle tune`` searches, how it scores a trial, and how long it may take."""

    search_space: dict[str, SearchParameter] = Field(
        min_length=1, description="Tunable name -> Choice, Uniform or LogUniform.")
    objective: str = Field("val_loss", description="'val_loss' or a metric of eval_metric_spec, "
                                                   "scored on each held-out fold of train.")
    max_trials: PositiveInt = Field(10, description="Sets of values tried.")
    trial_train_steps: PositiveInt | None = Field(
        None, description="Training steps per fold of a trial; None: as long as a run trains "
                          "(its num_epochs or train_steps), so trials rank what a run will do.")
    algorithm: Literal["random", "bayesian"] = "random"
    folds: int = Field(
        5, ge=3, le=10, description="Cross-validation folds the train split is cut into by "
                                    "its hash; each trial trains once per fold (the eval "
                                    "split is never used).")



MODEL_ARGS = "model_args"  # the config field a folder's own build_keras_model reads


def tunable_path(config: AnyConfig, name: str) -> tuple[str, ...]:
    """Where tunable ``name`` goes in ``config``: a prebuilt model's setting, or a setting
    of the folder's own build_keras_model (a key of ``model_args``).

    Raises:
      ConfigError: ``name`` is neither.
    """
    if name in TUNABLES:
        return TUNABLES[name]
    if name in getattr(config, MODEL_ARGS, {}):
        return (MODEL_ARGS, name)
    raise ConfigError(not_allowed(f"model {config.name!r}: hyperparameter", name,
                                  known_tunables(config)))


def known_tunables(config: AnyConfig) -> list[str]:
    """The prebuilt tunables and the config's own ``model_args``."""
    return [*TUNABLES, *getattr(config, MODEL_ARGS, {})]


def check_tunable_names(config: AnyConfig) -> None:
    """Every search-space name is a known tunable; ranges only where a range fits."""
    for name, parameter in config.tuning.search_space.items():
        if name not in known_tunables(config):
            raise ValueError(not_allowed("tuning.search_space tunable", name,
                                         known_tunables(config))
                             + " (a setting of your own build_keras_model: give it a value in "
                               "model_args and declare it in model.py's TUNABLES)")
        if name in TUNABLES and not isinstance(parameter, Choice) and name not in CONTINUOUS:
            raise ValueError(f"tuning.search_space[{name!r}]: {parameter} is a range; "
                             f"{name} takes Choice([...]) (ranges: "
                             f"{', '.join(CONTINUOUS)})")


def current_values(config: AnyConfig, names) -> dict[str, Any]:
    """The config's own values of the tunables ``names`` (those it sets: an optimizer's
    default learning rate is not among them)."""
    values = {}
    for name in names:
        value: Any = config.model_dump(mode="json")
        for part in tunable_path(config, name):
            if not isinstance(value, dict) or part not in value:
                break
            value = value[part]
        else:
            values[name] = value
    return values


def objective_direction(config: AnyConfig) -> str:
    """'min' or 'max' for the config's tuning objective (ConfigError if it is unknown)."""
    objective = config.tuning.objective
    if objective == "val_loss":
        return "min"
    for threshold in config.eval_metric_spec.metrics:
        if threshold.name == objective:
            return "min" if threshold.lower_is_better else "max"
    raise ConfigError(not_allowed("tuning.objective", objective,
                                  ["val_loss", *(m.name for m in config.eval_metric_spec.metrics)]))


def _set(data: dict, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data[part] = dict(data.get(part) or {})
        data = data[part]
    data[path[-1]] = value


def apply_hyperparameters(config: AnyConfig, values: dict[str, Any]) -> AnyConfig:
    """A re-validated copy of ``config`` trained with ``values`` (tunable -> value).

    Raises:
      ConfigError: a name that is not a tunable, or a value the config refuses.
    """
    data = config.model_dump()
    data["tuning"] = None  # checked once, on the config itself
    for name, value in values.items():
        _set(data, tunable_path(config, name), value)
    try:
        tuned = type(config).model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {problem_text(p)}"
                             for p in err.errors())
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise ConfigError(f"model {config.name!r}: hyperparameters {shown} do not make a valid "
                          f"config: {problems}") from None
    return tuned.model_copy(update={"tuning": config.tuning})


def check_search_space(config: AnyConfig) -> None:
    """Every candidate (each choice, both ends of a range) through the config's validation,
    and the objective; raises ValueError naming the tunable and the value."""
    check_tunable_names(config)
    tuning = config.tuning
    train = config.source.splits["train"]
    if train < tuning.folds:  # a fold is at least one of train's hash buckets
        raise ValueError(f"tuning.folds {tuning.folds}: the train split has {train} % of the "
                         f"hash buckets, too few to cut into {tuning.folds} folds; use at "
                         f"most {train}")
    for name, parameter in tuning.search_space.items():
        for value in parameter.candidates():
            try:
                apply_hyperparameters(config, {name: value})
            except ConfigError as err:
                reason = str(err).split("config: ", 1)[-1]
                raise ValueError(f"tuning.search_space[{name!r}]: {parameter}: value "
                                 f"{value!r} is not valid: {reason}") from None
    try:
        objective_direction(config)
    except ConfigError as err:
        raise ValueError(str(err)) from None


# keras-tuner's Choice holds plain scalars of one type; other choices (lists, None, mixed
# types) are offered to it as their JSON text and decoded back before they are applied.
def _plain(values: tuple[Any, ...]) -> bool:
    kinds = {type(v) for v in values}
    return len(kinds) == 1 and kinds <= {bool, int, float, str}


def encoded_choices(choice: Choice) -> list[Any]:
    """The choice's values as keras-tuner takes them."""
    return list(choice.values) if _plain(choice.values) else [json.dumps(v)
                                                               for v in choice.values]


def decode_values(tuning: Tuning, values: dict[str, Any]) -> dict[str, Any]:
    """keras-tuner's values as the config takes them (lists of units back as lists)."""
    decoded = {}
    for name, value in values.items():
        parameter = tuning.search_space.get(name)
        if isinstance(parameter, Choice) and not _plain(parameter.values):
            value = json.loads(value)
        decoded[name] = value
    return decoded
