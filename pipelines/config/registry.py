"""Finds model folders and loads their configs, turning every error into one message.

A model folder is ``pipelines/models/<name>/`` with a ``config.py`` defining
``CONFIG``; ``preprocessing.py`` (a ``preprocessing_fn``) and ``model.py`` (a
``build_keras_model``, and the ``TUNABLES`` it declares) are optional overrides.
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipelines.config.errors import (
    ConfigError,
    FullcycleError,
    did_you_mean,
    not_allowed,
    problem_text,
    unknown,
)
from pipelines.config.field_paths import fields_at, nested_models
from pipelines.config.model_config import ModelConfig

MODELS_PACKAGE = "pipelines.models"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def list_models() -> list[str]:
    """Names of the model folders, sorted."""
    return sorted(p.parent.name for p in MODELS_DIR.glob("*/config.py")
                  if not p.parent.name.startswith("_"))


def model_dir(name: str) -> Path:
    """The folder of model ``name``; raises ConfigError naming the known models."""
    known = list_models()
    if name not in known:
        raise ConfigError(unknown("model", name, known))
    return MODELS_DIR / name


class ModelCodeError(ConfigError):
    """A model folder's Python file raised while it was imported; ``trace`` has the details."""

    def __init__(self, message: str, trace: str):
        super().__init__(message)
        self.trace = trace


def _where(err: BaseException, folder: Path) -> tuple[str, int | None]:
    """The model-folder file and line an import error comes from."""
    if isinstance(err, SyntaxError) and err.filename:
        return err.filename, err.lineno
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if Path(f.filename).resolve().is_relative_to(folder)]
    return (frames[-1].filename, frames[-1].lineno) if frames else (str(folder), None)


def import_model_module(name: str, module: str):
    """Imports ``<models package>.<name>.<module>``; any exception it raises becomes one
    ModelCodeError naming the file, the line and the exception."""
    folder = model_dir(name).resolve()
    try:
        return importlib.import_module(f"{MODELS_PACKAGE}.{name}.{module}")
    except (ValidationError, FullcycleError):
        raise
    except Exception as err:  # noqa: BLE001 - user code: anything can come out of it
        path, line = _where(err, folder)
        try:
            path = str(Path(path).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
        at = f"{path}, line {line}" if line else path
        text = err.msg if isinstance(err, SyntaxError) else str(err)
        raise ModelCodeError(f"model {name!r}: {at}: {type(err).__name__}: {text}",
                             traceback.format_exc()) from None


def check_model_code(name: str) -> None:
    """Imports the folder's optional ``preprocessing.py`` and ``model.py`` (ModelCodeError)."""
    folder = model_dir(name)
    for module in ("preprocessing", "model"):
        if (folder / f"{module}.py").exists():
            import_model_module(name, module)


def load_config(name: str) -> ModelConfig:
    """Imports ``pipelines.models.<name>.config`` and returns its validated CONFIG."""
    try:
        module = import_model_module(name, "config")
    except ValidationError as err:
        raise ConfigError(format_validation_error(name, err)) from None
    except ModelCodeError:
        raise
    except FullcycleError as err:
        raise ConfigError(f"model {name!r}: {err}") from None
    config = getattr(module, "CONFIG", None)
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"model {name!r}: config.py must define CONFIG = ModelConfig(...), "
                          f"found {type(config).__name__}")
    config = config.model_copy(update={"name": name})
    check_model_args(config)
    return config


TUNABLES_NAME = "TUNABLES"  # what model.py declares: setting name -> a type pydantic checks


def declared_tunables(name: str) -> dict[str, Any]:
    """The settings the folder's model.py declares for its build_keras_model ({} if none)."""
    module = import_model_module(name, "model")
    declared = getattr(module, TUNABLES_NAME, {})
    if not isinstance(declared, dict) or not all(isinstance(k, str) for k in declared):
        raise ConfigError(f"model {name!r}: model.py's {TUNABLES_NAME} must be a dict of "
                          f"setting name -> type (e.g. {{'l2': float}}), found "
                          f"{type(declared).__name__}")
    return declared


def _check_value(config: ModelConfig, declared: dict[str, Any], key: str, value: Any,
                 where: str) -> None:
    try:
        TypeAdapter(declared[key]).validate_python(value)
    except ValidationError as err:
        problems = "; ".join(problem_text(p) for p in err.errors())
        raise ConfigError(f"model {config.name!r}: {where}: value {value!r} is not valid for "
                          f"model.py's {TUNABLES_NAME}[{key!r}]: {problems}") from None
    except Exception as err:  # noqa: BLE001 - a declared type pydantic cannot use
        raise ConfigError(f"model {config.name!r}: model.py's {TUNABLES_NAME}[{key!r}] = "
                          f"{declared[key]!r} is not a type that checks values: {err}") from None


def check_model_args(config: ModelConfig) -> None:
    """The config's ``model_args`` against model.py's ``TUNABLES``: each setting declared,
    its value and every candidate of the search space (each choice; a range's ends and
    middle) of the declared type. Imports model.py only when there are model_args.

    Raises:
      ConfigError: naming the setting, the value and what model.py declares.
    """
    if not config.model_args:
        return
    if custom_model_module(config.name) is None:
        raise ConfigError(f"model {config.name!r}: model_args {sorted(config.model_args)} are "
                          "settings of a model.py's own build_keras_model, and the folder has "
                          "no model.py")
    declared = declared_tunables(config.name)
    for key, value in config.model_args.items():
        if key not in declared:
            raise ConfigError(f"model {config.name!r}: " + not_allowed(
                "model_args setting", key, declared) + f" (model.py's {TUNABLES_NAME} "
                "declares them)")
        _check_value(config, declared, key, value, f"model_args[{key!r}]")
    space = config.tuning.search_space if config.tuning else {}
    for key, parameter in space.items():
        if key not in config.model_args:
            continue
        candidates = parameter.candidates()
        if hasattr(parameter, "low"):  # a range: its middle too (an int setting refuses it)
            candidates = (*candidates, (parameter.low + parameter.high) / 2)
        for value in candidates:
            _check_value(config, declared, key, value,
                         f"tuning.search_space[{key!r}]: {parameter}")


def with_overrides(config: ModelConfig, **changes: Any) -> ModelConfig:
    """A re-validated copy of ``config`` with ``changes`` applied (e.g. train_steps=1)."""
    data = config.model_dump()
    if "train_steps" in changes:
        data["num_epochs"] = None
    data.update({k: v for k, v in changes.items() if v is not None})
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(config.name, err)) from None


def preprocessing_fn_path(name: str) -> str:
    """Dotted path of the model's preprocessing_fn: its own, or the config-driven one."""
    if (model_dir(name) / "preprocessing.py").exists():
        return f"{MODELS_PACKAGE}.{name}.preprocessing.preprocessing_fn"
    return "pipelines.features.transform.preprocessing_fn"


def custom_model_module(name: str) -> str | None:
    """Dotted module of the model's own ``build_keras_model``, if it has one."""
    if (model_dir(name) / "model.py").exists():
        return f"{MODELS_PACKAGE}.{name}.model"
    return None


def format_validation_error(name: str, err: ValidationError) -> str:
    """One line per problem: model, field path, bad value, what is allowed."""
    # A nested part built on its own line (TrainingArgs(...)) fails under its class name.
    model_cls, prefix = nested_models(ModelConfig).get(err.title, (None, err.title))
    lines = [f"model {name!r}: config is not valid ({err.error_count()} problem(s))"]
    for problem in err.errors():
        loc = tuple(problem["loc"])
        path = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc) or "config"
        if problem["type"] == "extra_forbidden":
            allowed = fields_at(model_cls, loc) if model_cls else []
            hint = did_you_mean(loc[-1], allowed)
            lines.append(f"  - {path}: unknown field{hint}; allowed: {', '.join(allowed)}"
                         if allowed else f"  - {path}: unknown field")
            continue
        lines.append(f"  - {path}: {problem_text(problem)}")
    return "\n".join(lines)
