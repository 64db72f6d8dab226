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
InfraValidator needs it, it is waiting for its one model. :func:`check_ahead`
sends it the model as soon as the Trainer wrote it, so that loading and querying
overlap the Evaluator.
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
    """Loads ``model_dir`` (a local path or a ``gs://`` URI) and queries it with ``requests``
    (lists of instances)."""
    from pipelines.serving.model_store import LoadedModel
    from pipelines.serving.stats import has_nan, percentile

    started = time.perf_counter()
    try:
        model = LoadedModel(model_dir)  # a string: Path() would turn gs://b/x into gs:/b/x
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
        self._requests_dir: tempfile.TemporaryDirectory | None = None

    def submit(self, model_dir: str, requests: list[list[dict]], max_latency_ms: float) -> None:
        """Sends the job and returns: the child loads and queries while this process goes on."""
        self._requests_dir = tempfile.TemporaryDirectory(prefix="fullcycle-infra-")
        path = Path(self._requests_dir.name) / "requests.json"
        path.write_text(json.dumps(requests))
        job = json.dumps({"model_dir": model_dir, "requests_file": str(path),
                          "max_latency_ms": max_latency_ms})
        try:
            self._proc.stdin.write(job + "\n")
            self._proc.stdin.flush()
        except OSError:  # the child is gone: result() reports its exit status and stderr
            pass

    def result(self, timeout_seconds: float) -> subprocess.CompletedProcess:
        """Waits for the answer to the submitted job; kills the child after the timeout."""
        try:
            out, err = self._proc.communicate(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        self._remove_requests()
        return subprocess.CompletedProcess(self._proc.args, self._proc.returncode, out, err)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()
        self._remove_requests()

    def _remove_requests(self) -> None:
        if self._requests_dir is not None:
            self._requests_dir.cleanup()
            self._requests_dir = None


_waiting: list[ServingProcess] = []  # started, no job yet
_checking: dict[str, ServingProcess] = {}  # job sent ahead of validate(), by job


def _job_key(model_dir: str, requests: list[list[dict]], max_latency_ms: float) -> str:
    return json.dumps([model_dir, requests, float(max_latency_ms)], sort_keys=True)


@contextlib.contextmanager
def prestarted():
    """Within the block, the next :func:`validate` takes a child started at its beginning."""
    _waiting.append(ServingProcess())
    try:
        yield
    finally:
        while _waiting:
            _waiting.pop().close()
        while _checking:
            _checking.popitem()[1].close()


def has_waiting() -> bool:
    """Whether a prestarted child waits for a job (:func:`check_ahead` would use it)."""
    return bool(_waiting)


def check_ahead(model_dir: str, requests: list[list[dict]], max_latency_ms: float) -> bool:
    """Sends a job to the waiting child now, ahead of :func:`validate`.

    A local run calls this as soon as the Trainer has written the model: the child
    loads and queries it while the Evaluator runs, and the InfraValidator's
    ``validate`` with the same model, requests and budget collects that answer
    (anything else is checked anew). False when no child waits.
    """
    if not _waiting or not requests or not all(requests):
        return False
    process = _waiting.pop()
    process.submit(model_dir, requests, max_latency_ms)
    _checking[_job_key(model_dir, requests, max_latency_ms)] = process
    return True


def validate(model_dir: str, requests: list[list[dict]], max_latency_ms: float,
             timeout_seconds: float = 300) -> dict:
    """:func:`check` in a separate process; a crash or a timeout is a failed validation."""
    if not requests or not all(requests):
        raise ValueError("infra validation needs at least one non-empty request")
    process = _checking.pop(_job_key(model_dir, requests, max_latency_ms), None)
    if process is None:
        process = _waiting.pop() if _waiting else ServingProcess()
        process.submit(model_dir, requests, max_latency_ms)
    try:
        done = process.result(timeout_seconds)
    except subprocess.TimeoutExpired:
        return {"blessed": False, "reason": f"loading and querying took over {timeout_seconds} s"}
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
