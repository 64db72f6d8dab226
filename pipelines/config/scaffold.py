"""``fullcycle new``: a new model folder copied from an existing one, with its own test."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.config import registry
from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import IDENTIFIER

TEST_TEMPLATE = Path(__file__).with_name("templates") / "test_model.py.tmpl"
TESTS_DIR = Path(__file__).resolve().parents[2] / "tests" / "models"


def scaffold_model(name: str, source: str = "basic_template",
                   tests_dir: Path | None = None) -> list[Path]:
    """Creates ``pipelines/models/<name>/`` from ``source`` and ``tests/models/test_<name>.py``.

    Returns the paths created. Refuses a name that is not a Python identifier, an
    existing folder or test, and an unknown ``source`` (listing the models).
    """
    origin = registry.model_dir(source)
    if not IDENTIFIER.match(name):
        raise FullcycleError(f"model name {name!r} must be a letter or _ followed by letters, "
                             "digits or _ (it becomes a Python package)")
    target = registry.MODELS_DIR / name
    test = (tests_dir or TESTS_DIR) / f"test_{name}.py"
    for path in (target, test):
        if path.exists():
            raise FullcycleError(f"{path} already exists; choose another model name")
    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "__init__.py").write_text(f'"""{name}: a fullcycle model."""\n')
    test.parent.mkdir(parents=True, exist_ok=True)
    test.write_text(TEST_TEMPLATE.read_text().format(name=name))
    return [target, test]
