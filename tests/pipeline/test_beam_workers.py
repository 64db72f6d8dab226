"""The multi-processing DirectRunner with its first worker in this process (compat 4.)."""

import os
import shutil

import apache_beam as beam
import pytest

from pipelines.compat import patch_beam_first_worker_in_process


def test_first_worker_runs_here_the_others_in_processes_and_it_flushes_by_size(
        tmp_path, monkeypatch):
    from apache_beam.runners.worker import sdk_worker

    patch_beam_first_worker_in_process()
    patch_beam_first_worker_in_process()  # installing twice changes nothing
    harnesses = []

    class RecordingHarness(sdk_worker.SdkHarness):  # the real harness; its settings kept
        def __init__(self, *args, **kwargs):
            harnesses.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sdk_worker, "SdkHarness", RecordingHarness)
    out = tmp_path / "pids"

    def where(n):
        import sys

        spec = sys.modules["__main__"].__spec__
        return f"{os.getpid()} {spec.name if spec else '-'} {n}"

    with beam.Pipeline(argv=["--direct_running_mode=multi_processing",
                             "--direct_num_workers=2"]) as pipeline:
        _ = (pipeline
             | beam.Create(range(400))
             | beam.Reshuffle()
             | beam.Map(where)
             | beam.io.WriteToText(str(out)))
    lines = [line.split() for path in tmp_path.glob("pids*")
             for line in path.read_text().splitlines()]
    assert sorted(int(n) for *_, n in lines) == list(range(400))  # each element once
    mains = {int(pid): main for pid, main, _ in lines}
    assert os.getpid() in mains and len(mains) == 2  # this process and one worker process
    # the worker process is Beam's worker, ended without TensorFlow's teardown
    assert {main for pid, main in mains.items() if pid != os.getpid()} == {
        "pipelines.pipeline.beam_worker"}
    # one harness in this process, flushing by size only (its timer cuts elements)
    assert [h["data_buffer_time_limit_ms"] for h in harnesses] == [0]


@pytest.mark.e2e
def test_a_run_with_beam_workers_gives_the_in_process_runs_results(
        tmp_path, monkeypatch, seeded_warehouse):
    # Transform and the Evaluator on this process's worker beside a worker process; and
    # being the second run in this process changes nothing (the Trainer seeds first)
    from pipelines.config import load_config
    from pipelines.config.registry import with_overrides
    from pipelines.pipeline.local import run_local
    from pipelines.settings import Workspace

    config = with_overrides(load_config("basic_template"), train_steps=100)
    summaries = {}
    for workers in ("1", "2"):
        home = tmp_path / f"workers{workers}"
        home.mkdir()
        shutil.copy(seeded_warehouse, home / "warehouse.duckdb")
        monkeypatch.setenv("FULLCYCLE_HOME", str(home / ".fullcycle"))
        monkeypatch.setenv("FULLCYCLE_WAREHOUSE", str(home / "warehouse.duckdb"))
        monkeypatch.setenv("FULLCYCLE_BEAM_WORKERS", workers)
        summaries[workers] = run_local(config, Workspace.from_env(),
                                       overrides={"train_steps": 100}, deploy=False)
    one, two = summaries["1"], summaries["2"]
    assert two.succeeded, two.error
    assert two.split_rows == one.split_rows
    assert two.blessed is one.blessed is True
    metrics = {m.name: m.value for m in one.metrics}
    for metric in two.metrics:
        assert metric.value == pytest.approx(metrics[metric.name], rel=1e-6), metric.name
