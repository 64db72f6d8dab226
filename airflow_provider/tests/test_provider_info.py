"""The provider as Airflow sees it: the entry point, real classes, `airflow providers list`."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from fullcycle_provider import get_provider_info
from fullcycle_provider.hooks.runner import FullcycleRunnerHook


def test_the_entry_point_names_get_provider_info():
    [point] = [p for p in entry_points(group="apache_airflow_provider")
               if p.value.startswith("fullcycle_provider")]
    assert point.load() is get_provider_info


def test_provider_info_names_real_classes_and_modules():
    info = get_provider_info()
    [connection] = info["connection-types"]
    module, name = connection["hook-class-name"].rsplit(".", 1)
    hook = getattr(importlib.import_module(module), name)
    assert hook is FullcycleRunnerHook and hook.conn_type == connection["connection-type"]
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for integration in info[kind]:
            for module in integration["python-modules"]:
                assert Path(importlib.import_module(module).__file__).exists(), module


def test_airflow_maps_the_connection_type_to_the_hook():
    from airflow.providers_manager import ProvidersManager

    hook = ProvidersManager().hooks["fullcycle_runner"]
    assert hook.hook_class_name == "fullcycle_provider.hooks.runner.FullcycleRunnerHook"
    assert hook.connection_type == "fullcycle_runner"


def test_airflow_providers_list_shows_it(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    listed = subprocess.run([Path(sys.executable).with_name("airflow"), "providers", "list",
                             "-o", "json"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    start = listed.stdout.index("[")
    providers = {p["package_name"]: p for p in json.loads(listed.stdout[start:])}
    assert providers["airflow-provider-fullcycle"]["version"] == "0.1.0"


def test_the_package_imports_nothing_from_pipelines_or_tfx():
    """Composer cannot take TFX's pins: the provider must stay installable without them."""
    import ast

    import fullcycle_provider

    root = Path(fullcycle_provider.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("pipelines", "tfx", "tensorflow"), (path, name)
