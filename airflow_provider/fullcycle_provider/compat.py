"""The one place that knows which Airflow line is installed (3.x or 2.10+).

Airflow 3 moved the authoring classes to the Task SDK (``airflow.sdk``); 2.x keeps
them in ``airflow.models``, ``airflow.hooks.base`` and ``airflow.sensors.base``.
Triggers live in ``airflow.triggers.base`` on both. Everything else in the
provider imports these names from here.
"""

from __future__ import annotations

import asyncio

from airflow.triggers.base import BaseTrigger, TriggerEvent

try:  # Airflow 3.x
    from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

    AIRFLOW_3 = True
except ImportError:  # Airflow 2.10+
    from airflow.exceptions import AirflowException, AirflowFailException, TaskDeferred
    from airflow.hooks.base import BaseHook
    from airflow.models import BaseOperator
    from airflow.sensors.base import BaseSensorOperator

    AIRFLOW_3 = False

__all__ = ["AIRFLOW_3", "AirflowException", "AirflowFailException", "BaseHook", "BaseOperator",
           "BaseSensorOperator", "BaseTrigger", "TaskDeferred", "TriggerEvent",
           "aget_connection"]


async def aget_connection(conn_id: str):
    """The connection ``conn_id``, read without blocking the triggerer's event loop.

    Airflow 3 asks its supervisor asynchronously (a blocking read from the loop can
    deadlock); 2.x reads the metadata database, which is done in a thread.
    """
    if hasattr(BaseHook, "aget_connection"):
        return await BaseHook.aget_connection(conn_id)
    return await asyncio.to_thread(BaseHook.get_connection, conn_id)
