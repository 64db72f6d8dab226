"""runner_image/Dockerfile read as instructions and stages (no engine needed)."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE_PATH = ROOT / "runner_image" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(OPERATION, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip()
             else "") for line in joined.splitlines() if line.strip()]


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each stage, each list starting with its FROM."""
    result: list = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """The variables a stage's ENV instructions set (KEY=VALUE form)."""
    values: dict[str, str] = {}
    for op, args in stage:
        if op == "ENV":
            values.update(item.split("=", 1) for item in shlex.split(args))
    return values
