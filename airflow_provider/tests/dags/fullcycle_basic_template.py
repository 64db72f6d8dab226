"""The real-DAG test's DAGs: basic_template through the fullcycle runner, one DAG waiting in
the worker and one deferred to the triggerer, and one naming a model the runner does not
know (Airflow 3 runs ``dag.test()`` only on DAGs that its DAG processor found in the dags
folder, so they live in a file)."""

from __future__ import annotations

from datetime import datetime

from fullcycle_provider.operators.runner import FullcyclePipelineOperator

try:  # Airflow 3.x
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow.models.dag import DAG

MODEL = "basic_template"
DAGS = {}

for deferrable in (False, True):
    with DAG(f"fullcycle_{MODEL}_{'deferred' if deferrable else 'worker'}", schedule=None,
             start_date=datetime(2026, 1, 1), catchup=False, tags=["fullcycle"]) as dag:
        FullcyclePipelineOperator(task_id="pipeline_run", model=MODEL, poll_interval=2,
                                  deferrable=deferrable, timeout=1200)
    DAGS[deferrable] = dag

with DAG("fullcycle_misspelled_model", schedule=None, start_date=datetime(2026, 1, 1),
         catchup=False, tags=["fullcycle"]) as MISSPELLED:
    FullcyclePipelineOperator(task_id="pipeline_run", model="basic_templat", retries=0)
