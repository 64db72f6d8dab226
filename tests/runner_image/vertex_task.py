"""One task of a compiled Vertex AI pipeline spec, made runnable as Vertex's launcher would.

Vertex starts a task's container with the executor's ``command`` and ``args``, ``{{$}}``
replaced by the ExecutorInput (JSON): input artifacts with their URIs, the task's constant
parameters (schema 2.0.0: ``inputs.parameters``) and the path of the ExecutorOutput to write.
Here the URIs are folders of a mounted directory instead of ``gs://`` objects.
"""

import json
from pathlib import Path

from google.protobuf import text_format

ARTIFACT_NAME = "projects/fullcycle-test/locations/europe-west4/metadataStores/default/artifacts/{}"


def task_container(spec: dict, task: str) -> tuple[dict, dict]:
    """(the executor's container, the task's component) of TASK in a compiled spec."""
    pipeline = spec["pipelineSpec"]
    component = pipeline["components"][pipeline["root"]["dag"]["tasks"][task]["componentRef"]
                                       ["name"]]
    container = pipeline["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    return container, component


def executor_input(spec: dict, task: str, inputs: dict[str, tuple[str, dict]],
                   outputs: dict[str, str], output_file: str) -> str:
    """The ExecutorInput JSON for TASK: INPUTS maps a name to (uri, metadata), OUTPUTS to a uri."""
    _, component = task_container(spec, task)
    dag_task = spec["pipelineSpec"]["root"]["dag"]["tasks"][task]
    kinds = {**component["inputDefinitions"]["artifacts"],
             **component["outputDefinitions"]["artifacts"]}

    def artifact(name: str, number: int, uri: str, metadata: dict | None = None) -> dict:
        return {"artifacts": [{"name": ARTIFACT_NAME.format(number), "uri": uri,
                               "type": kinds[name]["artifactType"],
                               "metadata": metadata or {}}]}

    parameters = {name: value["runtimeValue"]["constantValue"]
                  for name, value in dag_task["inputs"].get("parameters", {}).items()}
    return json.dumps({
        "inputs": {"artifacts": {name: artifact(name, i, uri, metadata)
                                 for i, (name, (uri, metadata)) in enumerate(inputs.items())},
                   "parameters": parameters},
        "outputs": {"artifacts": {name: artifact(name, 100 + i, uri)
                                  for i, (name, uri) in enumerate(outputs.items())},
                    "outputFile": output_file}})


def command_line(spec: dict, task: str, invocation: str) -> list[str]:
    """The task's command and args, as Vertex runs them, ``{{$}}`` replaced."""
    container, _ = task_container(spec, task)
    return container["command"] + [invocation if arg == "{{$}}" else arg
                                   for arg in container["args"]]


def write_tiny_statistics(folder: Path) -> None:
    """A statistics artifact of one split ('train'): a float feature and a string feature,
    in the layout StatisticsGen writes (``Split-train/FeatureStats.pb``)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    stats = text_format.Parse("""
      datasets { num_examples: 3
        features { path { step: "trip_miles" } type: FLOAT
          num_stats { common_stats { num_non_missing: 3 min_num_values: 1 max_num_values: 1
                                     avg_num_values: 1 tot_num_values: 3 }
                      mean: 2.0 min: 1.0 max: 3.0 } }
        features { path { step: "payment_type" } type: STRING
          string_stats { common_stats { num_non_missing: 3 min_num_values: 1
                                        max_num_values: 1 avg_num_values: 1 tot_num_values: 3 }
                         unique: 2
                         rank_histogram { buckets { label: "Cash" sample_count: 2 }
                                          buckets { label: "Card" sample_count: 1 } } } } }
    """, statistics_pb2.DatasetFeatureStatisticsList())
    split = folder / "Split-train"
    split.mkdir(parents=True)
    (split / "FeatureStats.pb").write_bytes(stats.SerializeToString())
