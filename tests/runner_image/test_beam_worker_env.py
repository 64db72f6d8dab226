"""Dataflow's worker, as Beam's boot would start it from the image, run in the project venv.

Beam's boot (``sdks/python/container/boot.go``; see ``runner_image/local/beam_boot.py``
for the lines) starts ``python -m apache_beam.runners.worker.sdk_worker_main`` in the
image's environment only when ``RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT`` is non-empty.
Here: that variable comes from the Dockerfile, the boot's replay starts the workers of a
worker pool, and a small pipeline's elements must be processed by ``sdk_worker_main`` in
this venv with the image's environment. ``make image-test`` runs the same in the image.
"""

import json
import os
import signal
import subprocess
import sys

from tests.runner_image.dockerfile import DOCKERFILE_PATH, ROOT, env, stages
from tests.runner_image.engine import free_port, wait_for_port

BOOT = ROOT / "runner_image" / "local" / "beam_boot.py"
JOB = ROOT / "tests" / "runner_image" / "beam_job.py"


def image_environment() -> dict[str, str]:
    """The runtime stage's ENV, its /app/.venv read as this checkout's .venv."""
    values = env(stages(DOCKERFILE_PATH.read_text())[-1])
    venv_bin = str(ROOT / ".venv" / "bin")
    values["PATH"] = values["PATH"].replace("/app/.venv/bin", venv_bin).replace(
        "$PATH", os.environ["PATH"])
    return {k: v for k, v in values.items() if not v.startswith("/app")}


def test_the_worker_module_is_importable_where_the_boot_looks_for_it():
    result = subprocess.run([sys.executable, "-c", "import importlib.util, sys; sys.exit("
                             "importlib.util.find_spec('apache_beam.runners.worker."
                             "sdk_worker_main') is None)"], timeout=120)
    assert result.returncode == 0
    pip = subprocess.run([sys.executable, "-m", "pip", "show", "apache-beam"],
                         capture_output=True, text=True, timeout=120)
    assert pip.returncode == 0 and "Version: 2.74.0" in pip.stdout, pip.stderr


def test_workers_start_in_the_image_environment_through_the_boot(tmp_path):
    environment = image_environment()
    assert environment.get("RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT"), (
        "runner_image/Dockerfile's runtime stage must set RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT"
        " (else Beam's boot builds a venv under /opt/apache/beam-venv first)")
    port = free_port()
    pool_log = tmp_path / "worker_pool.log"
    log_file = pool_log.open("w")
    pool = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         f"--service_port={port}", f"--container_executable={BOOT}"],
        env={**os.environ, **environment}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        wait_for_port(port, 60, pool_log.read_text)
        expected = {"uid": os.getuid(), "prefix": sys.prefix, "main": "sdk_worker_main.py",
                    "default_environment": environment["RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT"],
                    "legacy_keras": environment["TF_USE_LEGACY_KERAS"], "worker_id_set": True}
        job = subprocess.run([sys.executable, str(JOB), f"localhost:{port}",
                              json.dumps(expected)], capture_output=True, text=True,
                             timeout=240, cwd=ROOT)
        assert job.returncode == 0, job.stderr[-4000:] + pool_log.read_text()[-3000:]
    finally:
        os.killpg(pool.pid, signal.SIGTERM)
        pool.wait(timeout=30)
        log_file.close()
