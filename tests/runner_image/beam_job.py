"""A small pipeline whose SDK harness runs in an external worker pool (run as a script).

``python beam_job.py POOL_ADDRESS EXPECTED_JSON``: the portable runner (embedded job
server) hands every bundle to the workers that the pool at POOL_ADDRESS starts
(``--environment_type=EXTERNAL``); each element reports, from inside the worker, who and
what runs it. The pipeline succeeds only if every report equals EXPECTED_JSON, so the exit
code says whether the harness ran as expected; on a mismatch Beam prints what it saw.
"""

import json
import sys


def describe(_: int) -> dict:
    """Where this element was processed: the worker's uid, interpreter and environment."""
    import os
    import sys

    return {"uid": os.getuid(), "prefix": sys.prefix,
            "main": os.path.basename(sys.argv[0]),
            "default_environment": os.environ.get("RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT"),
            "legacy_keras": os.environ.get("TF_USE_LEGACY_KERAS"),
            "worker_id_set": bool(os.environ.get("WORKER_ID"))}


def main(address: str, expected: dict) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    options = PipelineOptions(["--runner=PortableRunner", "--job_endpoint=embed",
                               "--environment_type=EXTERNAL",
                               f"--environment_config={address}"])
    with beam.Pipeline(options=options) as pipeline:
        reports = (pipeline | beam.Create([1, 2, 3])
                   | beam.Map(describe) | beam.Map(lambda r: json.dumps(r, sort_keys=True)))
        assert_that(reports, equal_to([json.dumps(expected, sort_keys=True)] * 3))
    print("pipeline succeeded in the worker pool at", address)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
