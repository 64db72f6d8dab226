"""The runner image installs exactly the lock and the package (checked without an engine)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "runner_image" / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def stages() -> list[list[tuple[str, str]]]:
    result: list = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_python_and_uv_match_the_project():
    python = (ROOT / ".python-version").read_text().strip()
    assert f"ARG PYTHON_VERSION={python}" in DOCKERFILE
    uv = re.search(r"UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text()).group(1)
    assert f"ARG UV_VERSION={uv}" in DOCKERFILE


def test_dependencies_come_only_from_the_lock():
    build = next(s for s in stages() if "AS build" in s[0][1])
    runs = [arg for op, arg in build if op == "RUN"]
    syncs = [r for r in runs if r.startswith("uv sync")]
    assert syncs and all("--frozen" in r and "--no-dev" in r for r in syncs)
    assert "--no-install-project" in syncs[0] and "--no-install-project" not in syncs[-1]
    installs = [r for r in runs if re.search(r"\bpip install\b", r)]
    assert installs == ["pip install --no-cache-dir uv==${UV_VERSION}"], installs
    copies = [arg for op, arg in build if op == "COPY"]
    assert copies[0].split()[:2] == ["pyproject.toml", "uv.lock"]  # the lock before any sync
    assert {"pipelines ./pipelines", "infra ./infra"} <= set(copies)
    assert "BEAM_VERSION=2.74.0" in DOCKERFILE
    assert 'name = "apache-beam"\nversion = "2.74.0"' in (ROOT / "uv.lock").read_text()


def test_final_stage_runs_as_non_root_with_legacy_keras():
    final = stages()[-1]
    assert len(stages()) >= 3  # multi-stage: beam harness, build, runtime
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(arg for op, arg in final if op == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in env and "FULLCYCLE_PROJECT_ROOT=/app" in env
    assert ("COPY", "--from=build /app/.venv /app/.venv") in final
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in final


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".fullcycle", "data", ".git"} <= set(ignored)


def test_no_stack_file_goes_into_the_image():
    """The runner reads the stack's settings from pulumi up (FULLCYCLE_SETTINGS)."""
    copies = [line for line in DOCKERFILE.splitlines() if line.startswith("COPY")]
    assert copies and not any("Pulumi" in line for line in copies), copies
