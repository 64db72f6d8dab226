"""Run history, the run report page and the model card."""
