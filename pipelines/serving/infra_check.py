"""Load-and-query: serve a candidate SavedModel in this process and query it (run as a child).

``python -m pipelines.serving.infra_check`` imports what serving needs, then reads
one JSON line from stdin (``{"model_dir", "requests_file", "max_latency_ms"}``),
loads the model as the endpoint would, sends one warm-up request and then every
request in the file, and prints one JSON line: ``{"blessed": bool, "reason": ..., ...}``.
A model that cannot load, answers an error or NaN, or exceeds the p99 latency
budget is not blessed. :func:`validate` runs it in a separate process (the twin of
TFX's InfraValidator starting a model server), so a crash cannot take the
pipeline with it and nothing the pipeline imported can help the model load.

Starting that process costs seconds (Python and TensorFlow imports), so a local
run starts it early, in the background, with :func:`prestarted`: by the time the
InfraValidator needs it, it is waiting for its one model.
"""

from __future__ import annotations

import contextlib
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


class ServingProcess:
    """A child that imports serving's libraries at once, then checks one model it is sent."""

    def __init__(self) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
        self._proc = subprocess.Popen([sys.executable, "-m", "pipelines.serving.infra_check"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env)

    def check(self, model_dir: str, requests_file: str, max_latency_ms: float,
              timeout_seconds: float) -> subprocess.CompletedProcess:
        """Sends the job and waits for the answer; kills the child after the timeout."""
        job = json.dumps({"model_dir": model_dir, "requests_file": requests_file,
                          "max_latency_ms": max_latency_ms})
        try:
            out, err = self._proc.communicate(job + "\n", timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        return subprocess.CompletedProcess(self._proc.args, self._proc.returncode, out, err)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


_waiting: list[ServingProcess] = []


@contextlib.contextmanager
def prestarted():
    """Within the block, the next :func:`validate` takes a child started at its beginning."""
    _waiting.append(ServingProcess())
    try:
        yield
    finally:
        while _waiting:
            _waiting.pop().close()


def validate(model_dir: str, requests: list[list[dict]], max_latency_ms: float,
             timeout_seconds: float = 300) -> dict:
    """:func:`check` in a separate process; a crash or a timeout is a failed validation."""
    if not requests or not all(requests):
        raise ValueError("infra validation needs at least one non-empty request")
    process = _waiting.pop() if _waiting else ServingProcess()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.json"
        path.write_text(json.dumps(requests))
        try:
            done = process.check(model_dir, str(path), max_latency_ms, timeout_seconds)
        except subprocess.TimeoutExpired:
            return {"blessed": False,
                    "reason": f"loading and querying took over {timeout_seconds} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"blessed": False, "reason": f"serving process exited with {done.returncode}: "
                                            f"{tail}"}
    return json.loads(lines[-1])


def main() -> int:
    import tensorflow as tf  # the imports are the start-up cost: done before the job comes

    import pipelines.serving.model_store  # noqa: F401
    import pipelines.serving.stats  # noqa: F401

    tf.saved_model.load  # noqa: B018 - resolves TF's lazily loaded saved_model module

    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the run ended without needing a check
    job = json.loads(line)
    result = check(job["model_dir"], json.loads(Path(job["requests_file"]).read_text()),
                   float(job["max_latency_ms"]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # `-m` imported `pipelines` first: TF_USE_LEGACY_KERAS is set
    sys.exit(main())
