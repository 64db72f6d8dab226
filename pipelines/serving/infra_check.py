"""Load-and-query: serve a candidate SavedModel in this process and query it (run as a child).

``python -m pipelines.serving.infra_check MODEL_DIR REQUESTS_JSON MAX_LATENCY_MS`` loads
the model as the endpoint would, sends one warm-up request and then every request
in the file, and prints one JSON line: ``{"blessed": bool, "reason": ..., ...}``.
A model that cannot load, answers an error or NaN, or exceeds the p99 latency
budget is not blessed. :func:`validate` runs it in a separate process (the twin of
TFX's InfraValidator starting a model server), so a crash cannot take the
pipeline with it and nothing the pipeline imported can help the model load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def check(model_dir: str, requests: list[list[dict]], max_latency_ms: float) -> dict:
    """Loads ``model_dir`` and queries it with ``requests`` (lists of instances)."""
    from pipelines.serving.model_store import LoadedModel
    from pipelines.serving.stats import has_nan, percentile

    started = time.perf_counter()
    try:
        model = LoadedModel(Path(model_dir))
    except Exception as err:  # whatever fails to load is the finding
        return {"blessed": False, "reason": f"model does not load: {type(err).__name__}: "
                                            f"{str(err).splitlines()[0] if str(err) else ''}"}
    load_seconds = time.perf_counter() - started
    latencies = []
    for i, instances in enumerate([requests[0], *requests]):  # the first one warms up
        begun = time.perf_counter()
        try:
            outputs = model.predict_array(instances)
        except Exception as err:
            return {"blessed": False, "reason": f"request {i} failed: {type(err).__name__}: {err}"}
        if i:
            latencies.append((time.perf_counter() - begun) * 1000)
        if has_nan(outputs):
            return {"blessed": False, "reason": f"request {i} answered NaN"}
        if len(outputs) != len(instances):
            return {"blessed": False, "reason": f"request {i}: {len(outputs)} predictions "
                                                f"for {len(instances)} instances"}
    p99 = percentile(latencies, 0.99)
    result = {"blessed": p99 <= max_latency_ms, "requests": len(latencies),
              "latency_p50_ms": round(percentile(latencies, 0.5), 3),
              "latency_p99_ms": round(p99, 3), "load_seconds": round(load_seconds, 3)}
    if not result["blessed"]:
        result["reason"] = f"latency p99 {p99:.1f} ms exceeds the budget of {max_latency_ms} ms"
    return result


def validate(model_dir: str, requests: list[list[dict]], max_latency_ms: float,
             timeout_seconds: float = 300) -> dict:
    """:func:`check` in a separate process; a crash or a timeout is a failed validation."""
    if not requests or not all(requests):
        raise ValueError("infra validation needs at least one non-empty request")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.json"
        path.write_text(json.dumps(requests))
        cmd = [sys.executable, "-m", "pipelines.serving.infra_check", model_dir, str(path),
               str(max_latency_ms)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_seconds,
                                  env=env)
        except subprocess.TimeoutExpired:
            return {"blessed": False,
                    "reason": f"loading and querying took over {timeout_seconds} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"blessed": False, "reason": f"serving process exited with {done.returncode}: "
                                            f"{tail}"}
    return json.loads(lines[-1])


def main(argv: list[str]) -> int:
    model_dir, requests_file, max_latency_ms = argv
    result = check(model_dir, json.loads(Path(requests_file).read_text()), float(max_latency_ms))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # `-m` imported `pipelines` first: TF_USE_LEGACY_KERAS is set
    sys.exit(main(sys.argv[1:]))
