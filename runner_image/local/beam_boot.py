#!/usr/bin/env python
"""A stand-in for Beam's Python SDK boot (``/opt/apache/beam/boot``) in the local Beam base.

Beam's ``boot`` is a Go binary that cannot be built or pulled here (no Go module proxy, no
container registry), so ``make image-test`` copies this replay of its decisions into the
image at the same path. It follows ``sdks/python/container/boot.go`` as read at commit
e6b636c (2.68.0-dev; the 2.74 tag could not be read here), step by step:

- ``--worker_pool``: exec ``python -m apache_beam.runners.worker.worker_pool_main
  --service_port=50000 --container_executable=/opt/apache/beam/boot`` (main(), L86-L105);
- otherwise: read the provision info (L122), then, unless ``RUN_PYTHON_SDK_IN_DEFAULT_
  ENVIRONMENT`` is non-empty, ``setupVenv("/opt/apache/beam-venv", id)`` (L166-L184):
  ``MkdirAll(<dir>/beam-venv-worker-<id>, 0750)``, ``python -m venv --system-site-packages``,
  then ``VIRTUAL_ENV`` and ``PATH`` point at it;
- ``installSetupPackages`` (L214) fails unless ``python -m pip show apache-beam`` succeeds
  (``piputil.go``'s ``isPackageInstalled``); staged artifacts are NOT retrieved here (the
  portable runner of ``make image-test`` stages none);
- the environment of L223-L231, then ``python -m apache_beam.runners.worker.sdk_worker_main``
  once per worker id (L270-L290), ``python`` looked up on ``PATH``.

What it cannot show is the Go binary itself; the README says so.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

VENV_BASE = "/opt/apache/beam-venv"
SDK_HARNESS = "apache_beam.runners.worker.sdk_worker_main"


def worker_pool() -> None:
    """``boot --worker_pool``: the worker pool whose workers are started through this boot."""
    os.environ["BEAM_PYTHON_WORKER_POOL_ID"] = str(os.getpid())
    args = ["python", "-m", "apache_beam.runners.worker.worker_pool_main",
            "--service_port=50000", "--container_executable=/opt/apache/beam/boot"]
    os.execvp(args[0], args)


def provision_info(endpoint: str, worker_id: str):
    """The runner's ProvisionInfo, asked with the worker id as boot's grpcx.WriteWorkerID does."""
    import grpc
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        return stub.GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(),
                                     metadata=(("worker_id", worker_id),)).info


def setup_venv(worker_id: str) -> None:
    """boot.go's setupVenv: a fresh venv over the base interpreter, first on PATH."""
    venv = os.path.join(VENV_BASE, f"beam-venv-worker-{worker_id}")
    shutil.rmtree(venv, ignore_errors=True)
    try:
        os.makedirs(venv, mode=0o750, exist_ok=True)
    except OSError as err:
        fail("failed to create a virtual environment. To run the SDK process in default "
             "environment instead, set the environment variable "
             "`RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1`. Encountered error: failed to create "
             f"Python venv directory: {err}")
    if subprocess.call(["python3", "-m", "venv", "--system-site-packages", venv]) != 0:
        fail("failed to create a virtual environment: python venv initialization failed")
    os.environ["VIRTUAL_ENV"] = venv
    os.environ["PATH"] = os.path.join(venv, "bin") + os.pathsep + os.environ["PATH"]


def fail(message: str) -> None:
    print(f"boot: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker_pool", action="store_true")
    for name in ("id", "logging_endpoint", "artifact_endpoint", "provision_endpoint",
                 "control_endpoint"):
        parser.add_argument(f"--{name}", default="")
    parser.add_argument("--semi_persist_dir", default="/tmp")
    args, _ = parser.parse_known_args()
    if args.worker_pool:
        worker_pool()
    if not args.id or not args.provision_endpoint:
        fail("No id provided." if not args.id else "No provision endpoint provided.")

    from apache_beam.portability.api import endpoints_pb2
    from google.protobuf import json_format, text_format

    info = provision_info(args.provision_endpoint, args.id)
    logging = info.logging_endpoint.url or args.logging_endpoint
    control = info.control_endpoint.url or args.control_endpoint
    if not logging or not control:
        fail("No logging endpoint provided." if not logging else "No control endpoint provided.")
    if os.environ.get("RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT", "") == "":
        setup_venv(args.id)
    if subprocess.call(["python", "-m", "pip", "show", "apache-beam"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
        fail("failed to install required packages: Apache Beam is not installed in the "
             "runtime environment.")

    def descriptor(url: str) -> str:
        return text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url),
                                           as_one_line=True)

    env = dict(os.environ,
               PIPELINE_OPTIONS=json.dumps(json.loads(
                   json_format.MessageToJson(info.pipeline_options))),
               SEMI_PERSISTENT_DIRECTORY=args.semi_persist_dir,
               LOGGING_API_SERVICE_DESCRIPTOR=descriptor(logging),
               CONTROL_API_SERVICE_DESCRIPTOR=descriptor(control),
               RUNNER_CAPABILITIES=" ".join(info.runner_capabilities))
    if info.HasField("status_endpoint"):
        env["STATUS_API_SERVICE_DESCRIPTOR"] = descriptor(info.status_endpoint.url)
    workers = [subprocess.Popen(["python", "-m", SDK_HARNESS], env=dict(env, WORKER_ID=worker))
               for worker in [args.id, *info.sibling_worker_ids]]
    sys.exit(max(worker.wait() for worker in workers))


if __name__ == "__main__":
    main()
