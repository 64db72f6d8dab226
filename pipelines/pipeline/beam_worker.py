"""A Beam worker process of a local run (the multi-processing DirectRunner's).

Beam's own SDK worker, ended as the CLI ends (``pipelines/process_exit.py``):
without Python's teardown of TensorFlow, whose function finalizers otherwise
print tracebacks into the run's terminal as a worker that loaded a SavedModel
(the Evaluator's) exits. ``pipelines/compat.py`` (4.) starts workers with it.
"""

import sys

from pipelines.process_exit import run_skipping_teardown

if __name__ == "__main__":
    from apache_beam.runners.worker import sdk_worker_main

    run_skipping_teardown(lambda: sdk_worker_main.main(sys.argv))
