"""fullcycle's Airflow provider: run a model's pipeline on the fullcycle runner from a DAG.

Airflow finds it through the ``apache_airflow_provider`` entry point, which names
``get_provider_info``.
"""

from __future__ import annotations

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-fullcycle"


def get_provider_info() -> dict:
    """What ``airflow providers list`` shows, and the ``fullcycle_runner`` connection type."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "fullcycle",
        "description": "Start and wait for fullcycle pipeline runs (TFX on Vertex AI Pipelines "
                       "or locally) through the fullcycle runner.",
        "versions": [__version__],
        "connection-types": [{
            "connection-type": "fullcycle_runner",
            "hook-class-name": "fullcycle_provider.hooks.runner.FullcycleRunnerHook",
        }],
        "hooks": [{"integration-name": "fullcycle",
                   "python-modules": ["fullcycle_provider.hooks.runner"]}],
        "operators": [{"integration-name": "fullcycle",
                       "python-modules": ["fullcycle_provider.operators.runner"]}],
        "sensors": [{"integration-name": "fullcycle",
                     "python-modules": ["fullcycle_provider.sensors.runner"]}],
        "triggers": [{"integration-name": "fullcycle",
                      "python-modules": ["fullcycle_provider.triggers.runner"]}],
    }
