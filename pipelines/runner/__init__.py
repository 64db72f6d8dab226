"""The runner: Cloud Scheduler's target. Compiles and submits runs; local twin included."""
