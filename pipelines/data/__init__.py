"""Data: the local DuckDB warehouse, split SQL for BigQuery and DuckDB, and ExampleGen."""
