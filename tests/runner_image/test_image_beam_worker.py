"""Dataflow's worker in the image: Beam's worker pool in the container, a pipeline on the host.

The pool starts each SDK harness through ``/opt/apache/beam/boot`` (here the replay of
boot.go's decisions, ``runner_image/local/beam_boot.py``: Beam's Go binary cannot be had
on this machine). With the image as built, the harness is ``sdk_worker_main`` in
/app/.venv as uid 10001 and the pipeline succeeds. With RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT
emptied (boot.go reads an empty value as unset: what a Dockerfile without the setting
gives), the boot stops before any worker starts: as uid 10001 it may not create its venv;
as root the venv it creates does not see apache-beam.
"""

import json
import subprocess
import sys

import pytest

from tests.runner_image.engine import (
    NON_ROOT_UID,
    ROOT,
    container,
    free_port,
    logs,
    podman,
    wait_for_log,
    wait_for_port,
)

JOB = ROOT / "tests" / "runner_image" / "beam_job.py"
POOL = ("python", "-m", "apache_beam.runners.worker.worker_pool_main")


def worker_pool(image: str, port: int, *options: str):
    """Beam's worker pool in a container of IMAGE, its workers started through the boot."""
    return container(image, f"--service_port={port}",
                     "--container_executable=/opt/apache/beam/boot",
                     options=("--network", "host", "--entrypoint", json.dumps(list(POOL)),
                              *options))


def run_job(port: int, expected: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(JOB), f"localhost:{port}", json.dumps(expected)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_environment_the_boot_uses_has_apache_beam(image):
    shown = podman("run", "--rm", "--network", "none", "--entrypoint", "python", image,
                   "-m", "pip", "show", "apache-beam")
    assert "Version: 2.74.0" in shown.stdout and "/app/.venv/" in shown.stdout, shown.stdout
    who = podman("run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u")
    assert who.stdout.strip() == str(NON_ROOT_UID)


def test_pipeline_runs_on_sdk_harnesses_in_the_container(image):
    port = free_port()
    with worker_pool(image, port) as name:
        wait_for_port(port, 120, lambda: logs(name))
        expected = {"uid": NON_ROOT_UID, "prefix": "/app/.venv", "main": "sdk_worker_main.py",
                    "default_environment": "1", "legacy_keras": "1", "worker_id_set": True}
        job = run_job(port, expected, timeout=300)
        assert job.returncode == 0, job.stderr[-4000:] + logs(name)[-3000:]


@pytest.mark.parametrize("user, failure", [
    (str(NON_ROOT_UID), "failed to create Python venv directory: [Errno 13] Permission denied"),
    ("0", "Apache Beam is not installed in the runtime environment"),
])
def test_without_the_default_environment_setting_no_worker_starts(image, user, failure):
    port = free_port()
    with worker_pool(image, port, "-e", "RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=",
                     "--user", user) as name:
        wait_for_port(port, 120, lambda: logs(name))
        job = subprocess.Popen([sys.executable, str(JOB), f"localhost:{port}", "{}"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_log(name, failure, timeout=180)
        finally:
            job.kill()
            job.wait()
