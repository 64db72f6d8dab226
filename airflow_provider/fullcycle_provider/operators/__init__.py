"""Operators: start a model's pipeline run from a DAG."""
