"""Entry point for ``pulumi up``: wires the components from the stack config and exports."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root

from infra.program import build  # noqa: E402
from pipelines.stack.config import StackConfig  # noqa: E402

build(StackConfig.from_pulumi())
