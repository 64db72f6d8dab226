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
