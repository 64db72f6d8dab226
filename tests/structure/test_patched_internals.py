"""Private library internals fullcycle patches still exist with the shape the patch expects.

The pins in pyproject.toml keep these libraries at the locked minor; when one is
upgraded, a failure here names the internal to re-check before anything fails
deep inside a run.
"""

import inspect

import pytest


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_beam_applied_ptransform_takes_environment_and_annotations():
    # pipelines/compat.py:patch_beam_for_tft defaults the two trailing parameters
    from apache_beam import pipeline

    assert parameters(pipeline.AppliedPTransform.__init__)[:7] == [
        "self", "parent", "transform", "full_label", "main_inputs", "environment_id",
        "annotations"]


def test_tensorflow_autograph_conversion_rules():
    # pipelines/compat.py:patch_autograph_for_tf_keras appends a DoNotConvert rule
    from tensorflow.python.autograph.core import config, config_lib

    assert isinstance(config.CONVERSION_RULES, tuple)
    assert any(getattr(rule, "_prefix", None) == "keras" for rule in config.CONVERSION_RULES)
    assert config_lib.DoNotConvert("tf_keras")._prefix == "tf_keras"


def test_tfx_launcher_launch_and_its_node():
    # pipelines/pipeline/quiet.py:ProgressHook wraps Launcher.launch and reads the node id
    from tfx.orchestration.portable import launcher

    assert parameters(launcher.Launcher.launch) == ["self"]
    assert "pipeline_node" in parameters(launcher.Launcher.__init__)
    source = inspect.getsource(launcher.Launcher.__init__)
    assert "self._pipeline_node = pipeline_node" in source


@pytest.mark.parametrize("module, name, expected", [
    ("pulumi._types", "_types_from_py_properties", ["cls"]),
    ("pulumi.runtime.resource", "_get_stack_trace", []),
    ("pulumi.runtime.settings", "set_root_resource", ["root"]),
    ("pulumi.runtime.stack", "run_pulumi_func", ["func"]),
    ("pulumi.runtime.sync_await", "_sync_await", ["awaitable"]),
])
def test_pulumi_sdk_internals_the_offline_plan_uses(module, name, expected):
    # infra/plan.py:_fast_sdk and plan() replace or call these
    import importlib

    fn = getattr(importlib.import_module(module), name)
    assert parameters(fn) == expected


def test_pulumi_mock_monitor_and_settings():
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.proto import source_pb2

    assert parameters(mocks.MockMonitor.make_urn) == ["self", "parent", "type_", "name"]
    assert parameters(mocks.MockMonitor.RegisterResource) == ["self", "request"]
    assert hasattr(settings.SETTINGS, "rpc_manager") and hasattr(settings.SETTINGS, "outputs")
    assert source_pb2.StackTrace().frames is not None


def test_beam_dofn_specs_cache_gives_beams_own_answer():
    # pipelines/compat.py:patch_beam_dofn_specs keeps get_dofn_specs' answer per methods
    import apache_beam as beam
    from apache_beam.coders import VarIntCoder
    from apache_beam.transforms import userstate
    from apache_beam.transforms.core import CallableWrapperDoFn

    from pipelines.compat import patch_beam_dofn_specs

    assert parameters(userstate.get_dofn_specs) == ["dofn"]
    patch_beam_dofn_specs()
    original = userstate.get_dofn_specs.__wrapped__
    bag = userstate.BagStateSpec("bag", VarIntCoder())
    timer = userstate.TimerSpec("timer", userstate.TimeDomain.WATERMARK)

    class Stateful(beam.DoFn):
        def process(self, kv, state=beam.DoFn.StateParam(bag), t=beam.DoFn.TimerParam(timer)):
            yield kv

        @userstate.on_timer(timer)
        def fire(self):
            yield 1

    class Twice(beam.DoFn):
        def process(self, kv, a=beam.DoFn.StateParam(bag), b=beam.DoFn.StateParam(bag)):
            yield kv

    for dofn in (Stateful(), Stateful(), beam.DoFn(), CallableWrapperDoFn(lambda x: [x])):
        for _ in range(2):  # the second answer comes from the cache
            assert userstate.get_dofn_specs(dofn) == original(dofn)
    assert userstate.get_dofn_specs(Stateful()) == ({bag}, {timer})
    assert userstate.is_stateful_dofn(Stateful()) and not userstate.is_stateful_dofn(beam.DoFn())
    for _ in range(2):  # a malformed DoFn is refused every time, never cached
        with pytest.raises(ValueError, match="duplicate"):
            userstate.get_dofn_specs(Twice())


def test_beam_worker_handler_manager_and_in_process_worker():
    # pipelines/compat.py:patch_beam_first_worker_in_process adds the first worker itself
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    manager = worker_handlers.WorkerHandlerManager
    assert parameters(manager.get_worker_handlers) == ["self", "environment_id", "num_workers"]
    source = inspect.getsource(manager)
    for name in ("self._environments", "self._cached_handlers", "self._workers_by_id",
                 "self._grpc_server", "self._job_provision_info", "self.state_servicer"):
        assert name in source, name
    embedded = worker_handlers.EmbeddedGrpcWorkerHandler
    assert parameters(embedded.__init__) == ["self", "payload", "state", "provision_info",
                                             "grpc_server"]
    assert ("data_buffer_time_limit_ms=self._data_buffer_time_limit_ms"
            in inspect.getsource(embedded.start_worker))
    # ... and starts the DirectRunner's worker processes with pipelines/pipeline/beam_worker.py
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.worker import sdk_worker_main

    from pipelines.compat import BEAM_WORKER_MAIN

    assert BEAM_WORKER_MAIN.decode() in inspect.getsource(fn_runner.FnApiRunner)
    assert parameters(sdk_worker_main.main) == ["unused_argv"]
