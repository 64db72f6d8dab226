"""Where each part of a config lives, found by walking its pydantic types.

Used to suggest the closest field for a typo anywhere in ``ModelConfig``, and to
name the field of a nested part that failed while built on its own line
(``TrainingArgs(dnn_hiden_units=...)``). Nothing here lists the sections: a
new nested model in ``ModelConfig`` (a ``tuning`` section, say) is found too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside ``X | None``,
    ``tuple[X, ...]``, ``dict[str, X]`` and the like, at any depth."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(m for m in models_in(arg) if m not in found)
    return found


def fields_at(root: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names valid at the last part of ``loc`` (a pydantic error location).

    Parts that name no field (a dict key, a tuple index, a union member's tag) are
    stepped over: ``("vocab_features", "v", "top_kk")`` gives VocabSpec's fields.
    """
    current = [root]
    for part in loc[:-1]:
        inner = [m for model in current if part in model.model_fields
                 for m in models_in(model.model_fields[part].annotation)]
        if inner:
            current = inner
        elif any(part in model.model_fields for model in current):
            return []  # a field that holds no model (a scalar, a list of strings)
    names: list[str] = []
    for model in current:
        names.extend(name for name in model.model_fields if name not in names)
    return names


def nested_models(root: type[BaseModel]) -> dict[str, tuple[type[BaseModel], str]]:
    """Class name -> (class, dotted path from ``root``) of every model nested in ``root``.

    A class used in several places gets the path they share (``Check`` in
    ``data_validation.*`` -> ``data_validation``); ``root`` itself has path "".
    """
    paths: dict[type[BaseModel], list[str]] = {root: [""]}
    queue = [(root, "")]
    while queue:
        model, path = queue.pop(0)
        for name, field in model.model_fields.items():
            child_path = f"{path}.{name}" if path else name
            for child in models_in(field.annotation):
                if child not in paths:
                    paths[child] = [child_path]
                    queue.append((child, child_path))
                elif child is not root and child_path not in paths[child]:
                    paths[child].append(child_path)
    return {model.__name__: (model, _shared_prefix(found)) for model, found in paths.items()}


def _shared_prefix(paths: list[str]) -> str:
    parts = [path.split(".") for path in paths]
    shared = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        shared.append(names[0])
    return ".".join(shared)
