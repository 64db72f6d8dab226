"""A workspace per end-to-end module: its own copy of the seeded warehouse and state."""

import shutil

import pytest

from pipelines.settings import Workspace


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory, seeded_warehouse, request):
    """Shared by the tests of one module (they build on its first blessed run)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    shutil.copy(seeded_warehouse, root / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FULLCYCLE_HOME", str(root / ".fullcycle"))
        patch.setenv("FULLCYCLE_WAREHOUSE", str(root / "warehouse.duckdb"))
        yield Workspace.from_env()
