"""DataGate: stops the run before Transform when the data is not what the model expects.

TFX's ExampleValidator only records anomalies; nothing stops a run unless a
gate reads them. This component fails (so no later component runs) when
ExampleValidator found anomalies in any split, or when a declared feature is
missing from the data or has a type the config cannot use.
"""

import json
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, Schema

from pipelines.config.model_config import ModelConfig
from pipelines.features.kinds import FEATURE_KINDS, NUMERIC, declared


def expected_types(config: ModelConfig) -> dict[str, list[str]]:
    """Feature -> allowed schema types, from the config's declarations."""
    expected = {key: list(kind.schema_types) for kind in FEATURE_KINDS
                for key, _ in declared(config, kind)}
    expected[config.label_key] = list(NUMERIC) if config.task == "regression" else ["INT"]
    return expected


def schema_problems(schema, expected: dict[str, list[str]]) -> list[str]:
    """Declared features that the data lacks or holds with an unusable type."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    found = {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
    problems = []
    for key, allowed in expected.items():
        if key not in found:
            problems.append(f"column {key!r} is declared in the config but missing from the data")
        elif found[key] not in allowed:
            problems.append(f"column {key!r} has type {found[key]} in the data; the config "
                            f"needs {' or '.join(allowed)}")
    return problems


def anomaly_problems(anomalies_uri: str, split_names: list[str]) -> list[str]:
    """ExampleValidator's findings, one line per feature and split."""
    from tensorflow_data_validation.utils.anomalies_util import load_anomalies_binary

    problems = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not os.path.exists(path):
            continue
        anomalies = load_anomalies_binary(path)
        for feature, info in sorted(anomalies.anomaly_info.items()):
            problems.append(f"[{split}] {feature}: {info.short_description} - {info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            problems.append(f"[{split}] dataset: {info.short_description} - {info.description}")
    return problems


class DataValidationError(RuntimeError):
    """The data failed validation; the run stops before Transform."""


@component
def DataGate(  # noqa: N802 - TFX components are named like classes
    anomalies: InputArtifact[ExampleAnomalies],
    schema: InputArtifact[Schema],
    expected_features: Parameter[str],
) -> None:
    """Fails the run when the data has anomalies or lacks what the config declares."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.types import artifact_utils
    from tfx.utils import io_utils

    schema_proto = io_utils.parse_pbtxt_file(
        io_utils.get_only_uri_in_dir(schema.uri), schema_pb2.Schema())
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    problems = schema_problems(schema_proto, json.loads(expected_features))
    problems += anomaly_problems(anomalies.uri, splits)
    if problems:
        raise DataValidationError("data validation failed; stopping before training:\n  - "
                                  + "\n  - ".join(problems))
