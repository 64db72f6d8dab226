"""Shared fixtures: an isolated workspace and a seeded warehouse per session."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from pipelines.settings import Workspace  # noqa: E402


@pytest.fixture(scope="session")
def seeded_warehouse(tmp_path_factory) -> Path:
    """A warehouse built by ``fullcycle data seed`` once per test session (read-only use)."""
    from pipelines.data.warehouse import seed

    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    seed(path)
    return path


@pytest.fixture
def workspace(tmp_path, monkeypatch, seeded_warehouse) -> Workspace:
    """A private workspace with its own copy of the seeded warehouse."""
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(seeded_warehouse, warehouse)
    monkeypatch.setenv("FULLCYCLE_HOME", str(tmp_path / ".fullcycle"))
    monkeypatch.setenv("FULLCYCLE_WAREHOUSE", str(warehouse))
    return Workspace.from_env()


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory, seeded_warehouse, request):
    """Shared by the tests of one module (they build on its first blessed run)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    shutil.copy(seeded_warehouse, root / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FULLCYCLE_HOME", str(root / ".fullcycle"))
        patch.setenv("FULLCYCLE_WAREHOUSE", str(root / "warehouse.duckdb"))
        yield Workspace.from_env()


@pytest.fixture
def models_package(tmp_path, monkeypatch):
    """A throwaway models package; returns a function that writes a model's config.py."""
    from pipelines.config import registry

    package = f"test_models_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "pkgroot"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(registry, "MODELS_DIR", root / package)
    monkeypatch.setattr(registry, "MODELS_PACKAGE", package)

    def write(name: str, config_source: str) -> Path:
        folder = root / package / name
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
        (folder / "config.py").write_text(config_source)
        sys.modules.pop(f"{package}.{name}.config", None)
        return folder

    return write


@pytest.fixture(scope="session", autouse=True)
def servers_shut_down():
    """Every server a test started finishes its shutdown (and closes what it holds) first."""
    yield
    from tests.support.servers import shut_down_all

    shut_down_all()
