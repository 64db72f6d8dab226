"""The runner image installs exactly the lock and the package (checked without an engine)."""

import re

from tests.runner_image.dockerfile import DOCKERFILE_PATH, ROOT, env, stages

DOCKERFILE = DOCKERFILE_PATH.read_text()
STAGES = stages(DOCKERFILE)


def stage(alias: str | None) -> list[tuple[str, str]]:
    """The stage named ALIAS (``FROM x AS alias``); None: the last (runtime) stage."""
    if alias is None:
        return STAGES[-1]
    return next(s for s in STAGES if s[0][1].endswith(f" AS {alias}"))


def test_python_and_uv_match_the_project():
    python = (ROOT / ".python-version").read_text().strip()
    assert f"ARG PYTHON_VERSION={python}" in DOCKERFILE
    uv = re.search(r"UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text()).group(1)
    assert f"ARG UV_VERSION={uv}" in DOCKERFILE


def test_base_images_are_build_arguments_defaulting_to_the_public_images():
    """`pulumi up` builds with the defaults; `make image-test` passes local stand-ins."""
    python = ".".join((ROOT / ".python-version").read_text().strip().split(".")[:2])
    assert "ARG PYTHON_BASE=python:${PYTHON_VERSION}-slim-bookworm" in DOCKERFILE
    assert f"ARG BEAM_BASE=apache/beam_python{python}_sdk:${{BEAM_VERSION}}" in DOCKERFILE
    assert [s[0][1] for s in STAGES] == ["${BEAM_BASE} AS beam", "${PYTHON_BASE} AS build",
                                         "${PYTHON_BASE}"]


def test_dependencies_come_only_from_the_lock():
    build = stage("build")
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


def test_the_build_stage_alone_has_a_cxx_compiler_before_the_first_sync():
    """pyfarmhash (tensorflow-data-validation) has no Linux wheel for Python 3.10: uv builds
    it from its sdist, which needs g++ (else `uv sync` stops: No such file or directory: 'g++').
    """
    lock = (ROOT / "uv.lock").read_text()
    farmhash = lock[lock.index('name = "pyfarmhash"'):].split("\n\n", 1)[0]
    assert "sdist" in farmhash and "manylinux" not in farmhash  # still no Linux wheel
    runs = [arg for op, arg in stage("build") if op == "RUN"]
    compiler = next(i for i, r in enumerate(runs) if re.search(r"apt-get install .*\bg\+\+", r))
    first_sync = next(i for i, r in enumerate(runs) if r.startswith("uv sync"))
    assert compiler < first_sync
    runtime = " ".join(arg for op, arg in stage(None) if op == "RUN")
    assert "apt-get" not in runtime and "g++" not in runtime, runtime


def test_final_stage_runs_as_non_root_with_legacy_keras():
    final = stage(None)
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    variables = env(final)
    assert variables["TF_USE_LEGACY_KERAS"] == "1"
    assert variables["FULLCYCLE_PROJECT_ROOT"] == "/app"
    assert ("COPY", "--from=build /app/.venv /app/.venv") in final
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in final


def test_beam_workers_run_in_the_image_environment():
    """Beam's boot makes its own venv (root-owned /opt/apache/beam-venv, blind to /app/.venv)
    unless RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT is non-empty; then `python` from PATH
    must be the venv's, which has apache-beam and pip."""
    variables = env(stage(None))
    assert variables.get("RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT"), variables
    assert variables["PATH"].split(":")[0] == "/app/.venv/bin"
    assert ("COPY", "--from=beam /opt/apache/beam /opt/apache/beam") in stage(None)
    assert 'name = "pip"' in (ROOT / "uv.lock").read_text()  # `python -m pip show apache-beam`


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".fullcycle", "data", ".git"} <= set(ignored)


def test_no_stack_file_goes_into_the_image():
    """The runner reads the stack's settings from pulumi up (FULLCYCLE_SETTINGS)."""
    copies = [line for line in DOCKERFILE.splitlines() if line.startswith("COPY")]
    assert copies and not any("Pulumi" in line for line in copies), copies
