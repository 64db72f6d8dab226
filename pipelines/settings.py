"""Where local state lives: the warehouse file and the workspace of runs.

Both default to paths under the current directory and can be moved with
``FULLCYCLE_WAREHOUSE`` and ``FULLCYCLE_HOME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    """The local twin of the cloud's storage: warehouse, pipeline roots, serving dirs."""

    home: Path
    warehouse: Path

    @classmethod
    def from_env(cls) -> Workspace:
        home = Path(os.environ.get("FULLCYCLE_HOME", ".fullcycle")).resolve()
        warehouse = Path(os.environ.get("FULLCYCLE_WAREHOUSE", "data/warehouse.duckdb")).resolve()
        return cls(home=home, warehouse=warehouse)

    def pipeline_root(self, model: str) -> Path:
        return self.home / "pipelines" / model

    def metadata_path(self, model: str) -> Path:
        return self.home / "metadata" / model / "metadata.sqlite"

    def serving_model_dir(self, model: str) -> Path:
        return self.home / "serving" / model

    def endpoint_dir(self, model: str) -> Path:
        """The local endpoint twin's state, request log and server address."""
        return self.home / "endpoints" / model

    def baseline_dir(self, model: str) -> Path:
        """The model's data baseline: the last blessed run's statistics and schema."""
        return self.home / "baselines" / model

    def hyperparameters_dir(self, model: str) -> Path:
        """The model's tuning results and the pointer to the one runs train with."""
        return self.home / "hyperparameters" / model

    def rollout_state(self, model: str) -> Path:
        return self.home / "rollouts" / f"{model}.json"
