"""Serving speed: the local endpoint over HTTP vs the same SavedModel signature in-process.

The model is basic_template's latest pushed version (transform graph + DNN), as
`make demo` leaves it. Side by side, in one run:

  in-process  the `serving_default` concrete function called with prepared tensors (the floor)
  endpoint    `fullcycle serve-endpoint` (its defaults) in its own process; keep-alive
              HTTP clients posting {"instances": [...]} to :predict (JSON in and out,
              traffic split, request log written to DuckDB)

at batch 1 and batch 64, with one caller and with two in parallel: p50 / p99
latency per request and throughput in instances/s. The in-process calls run with
TensorFlow's default threading, as a user calling the model gets it.
Targets: endpoint p50 at batch 1 within 3 ms of in-process; endpoint throughput at
batch 64 at least 70 % of in-process.
Usage: python bench/serving.py [--requests N] [--server-args "--tf-threads 0"]
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipelines  # noqa: E402,F401 - TF_USE_LEGACY_KERAS before TensorFlow
from pipelines.serving.model_store import read_instances, served_version  # noqa: E402
from pipelines.serving.stats import percentile  # noqa: E402
from pipelines.settings import Workspace  # noqa: E402

MODEL = "basic_template"
SERVER_ARGS = sys.argv[sys.argv.index("--server-args") + 1].split() \
    if "--server-args" in sys.argv else []
PATH = f"/v1/projects/local/locations/local/endpoints/{MODEL}"


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of this process, or of process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(call, requests: int, batch: int, callers: int = 1,
            server: int | None = None) -> dict[str, float]:
    """Latency percentiles, throughput and CPU ms per request (this process, and the
    ``server`` process if any) of ``requests`` calls per caller, callers in parallel."""
    import threading

    calls = [call() for _ in range(callers)]  # one client (connection) per caller
    for fn in calls:
        for _ in range(20):  # warm-up: traces, connections, caches
            fn()
    latencies: list[float] = []

    def run(fn):
        own = []
        for _ in range(requests):
            begun = time.perf_counter()
            fn()
            own.append((time.perf_counter() - begun) * 1000)
        latencies.extend(own)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    cpu = cpu_seconds(), cpu_seconds(server) if server else 0.0
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    per_request = 1000 / (callers * requests)
    return {"p50": statistics.median(latencies), "p99": percentile(latencies, 0.99),
            "throughput": callers * requests * batch / seconds,
            "cpu": (cpu_seconds() - cpu[0]) * per_request,
            "server_cpu": (cpu_seconds(server) - cpu[1]) * per_request if server else 0.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    import tensorflow as tf

    requests = int(sys.argv[sys.argv.index("--requests") + 1]) if "--requests" in sys.argv \
        else 500
    version = served_version(Workspace.from_env().serving_model_dir(MODEL), MODEL)
    rows = read_instances(ROOT / "pipelines" / "models" / MODEL / "instances.json")

    work = Path(tempfile.mkdtemp(prefix="fullcycle-bench-serving-"))
    shutil.copytree(version, work / ".fullcycle" / "serving" / MODEL / version.name)
    port = free_port()
    env = {**os.environ, "FULLCYCLE_HOME": str(work / ".fullcycle"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "serve-endpoint",
                               MODEL, "--port", str(port), *SERVER_ARGS], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        signature = tf.saved_model.load(str(version)).signatures["serving_default"]
        specs = signature.structured_input_signature[1]
        for _ in range(600):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        print(f"model {MODEL} version {version.name}; {requests} requests per caller\n")
        print(f"{'batch':>5}  {'path':<11} {'callers':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'instances/s':>12} {'CPU ms/request':>15}")
        results = {}
        for batch in (1, 64):
            instances = [rows[i % len(rows)] for i in range(batch)]
            tensors = {name: tf.constant([row[name] for row in instances], dtype=spec.dtype)
                       for name, spec in specs.items()}
            body = json.dumps({"instances": instances}).encode()

            def in_process(t=tensors):
                return lambda: signature(**t)["outputs"].numpy()

            def client(b=body):
                connection = http.client.HTTPConnection("127.0.0.1", port)

                def post():
                    connection.request("POST", f"{PATH}:predict", body=b,
                                       headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    payload = response.read()
                    assert response.status == 200, payload
                return post
            for callers in (1, 2):
                for name, make in (("in-process", in_process), ("endpoint", client)):
                    r = measure(make, requests, batch, callers,
                                server.pid if name == "endpoint" else None)
                    results[batch, name, callers] = r
                    cpu = f"{r['cpu']:.2f}" if name == "in-process" else \
                        f"{r['server_cpu']:.2f} + {r['cpu']:.2f}"
                    print(f"{batch:>5}  {name:<11} {callers:>7} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                          f"{r['throughput']:>12.0f} {cpu:>15}")
        gap = results[1, "endpoint", 1]["p50"] - results[1, "in-process", 1]["p50"]
        best = {name: max(results[64, name, c]["throughput"] for c in (1, 2))
                for name in ("in-process", "endpoint")}
        r64 = results[64, "endpoint", 2]
        endpoint_cpu = r64["server_cpu"] + r64["cpu"]
        cores = os.cpu_count() or 1
        saturated = cores * 1000 / endpoint_cpu * 64  # every core busy with this request mix
        print(f"\nCPU per request at batch 64, 2 callers: in-process "
              f"{results[64, 'in-process', 2]['cpu']:.2f} ms; endpoint {endpoint_cpu:.2f} ms "
              f"(server {r64['server_cpu']:.2f} + client {r64['cpu']:.2f}). With all {cores} "
              f"cores busy at that cost the endpoint would serve {saturated:.0f} instances/s: "
              f"{saturated / max(results[64, 'in-process', c]['throughput'] for c in (1, 2)):.0%}"
              f" of in-process.")
        print(f"p50 gap at batch 1 (one caller): {gap:.2f} ms (target <= 3 ms)")
        print(f"throughput at batch 64 (best of 1 or 2 callers each): "
              f"{best['endpoint'] / best['in-process']:.0%} of in-process (target >= 70 %)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
