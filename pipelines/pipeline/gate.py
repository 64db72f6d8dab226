"""Data validation before Transform: the DataValidator records findings, the DataGate acts.

TFX's ExampleValidator only records anomalies, and judges each run's data only
against a schema inferred from that same data; nothing stops a run unless a gate
reads them. Here:

- **DataValidator** collects every finding: declared features missing from the
  data or of a type the config cannot use, ExampleValidator's anomalies, and -
  when the model has a baseline (the last blessed run's statistics and schema,
  given as inputs) - the checks of ``pipelines.pipeline.validation``: missing
  values, drift, type and domain, number of examples. It always succeeds and
  writes ``findings.json`` (with the baseline it compared against) to its output.
- **DataGate** fails the run (so nothing downstream runs: no Transform, no
  training, no push) when any finding's action is ``block``.
"""

import json
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, Schema

from pipelines.config.model_config import ModelConfig
from pipelines.features.kinds import FEATURE_KINDS, NUMERIC, declared

FINDINGS_FILE = "findings.json"


def expected_types(config: ModelConfig) -> dict[str, list[str]]:
    """Feature -> allowed schema types, from the config's declarations."""
    expected = {key: list(kind.schema_types) for kind in FEATURE_KINDS
                for key, _ in declared(config, kind)}
    expected[config.label_key] = list(NUMERIC) if config.task == "regression" else ["INT"]
    return expected


def schema_problems(schema, expected: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(feature, problem) for declared features the data lacks or holds with an unusable type."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    found = {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
    problems = []
    for key, allowed in expected.items():
        if key not in found:
            problems.append((key, f"column {key!r} is declared in the config but missing "
                                  "from the data"))
        elif found[key] not in allowed:
            problems.append((key, f"column {key!r} has type {found[key]} in the data; the "
                                  f"config needs {' or '.join(allowed)}"))
    return problems


def anomaly_problems(anomalies_uri: str, split_names: list[str]) -> list[tuple[str, str, str]]:
    """ExampleValidator's findings: (split, feature, description)."""
    import tensorflow as tf
    from tensorflow_data_validation.utils.anomalies_util import load_anomalies_binary

    problems = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not tf.io.gfile.exists(path):  # os.path.exists is False for every gs:// path
            continue
        anomalies = load_anomalies_binary(path)
        for feature, info in sorted(anomalies.anomaly_info.items()):
            problems.append((split, feature, f"{info.short_description} - {info.description}"))
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            problems.append((split, "*", f"{info.short_description} - {info.description}"))
    return problems


def read_findings(uri: str) -> dict:
    """What a DataValidator wrote: ``{"baseline": ..., "findings": [...]}``."""
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(uri, FINDINGS_FILE)) as f:
        return json.load(f)


class DataValidationError(RuntimeError):
    """The data failed validation; the run stops before Transform."""


@component
def DataValidator(  # noqa: N802 - TFX components are named like classes
    statistics: InputArtifact[ExampleStatistics],
    schema: InputArtifact[Schema],
    anomalies: InputArtifact[ExampleAnomalies],
    findings: OutputArtifact[ExampleAnomalies],
    expected_features: Parameter[str],
    checks: Parameter[str],
    baseline: Parameter[str] = "",
    baseline_statistics: InputArtifact[ExampleStatistics] = None,
    baseline_schema: InputArtifact[Schema] = None,
) -> None:
    """Writes every finding of this run's data (against the baseline when there is one)."""
    import tensorflow as tf
    from tfx.types import artifact_utils

    from pipelines.config.data_validation import DataValidation
    from pipelines.pipeline.baseline import read_schema
    from pipelines.pipeline.validation import Finding, compare, load_statistics

    rules = DataValidation.model_validate_json(checks)
    expected = json.loads(expected_features)
    found = [Finding("*", feature, "declared", None, None, "declared in the config", problem,
                     "block")
             for feature, problem in schema_problems(read_schema(schema.uri), expected)]
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found += [Finding(split, feature, "type_and_domain", None, None, "as the schema says", text,
                      rules.type_and_domain.action)
              for split, feature, text in anomaly_problems(anomalies.uri, splits)]
    if baseline_statistics is not None and baseline_schema is not None:
        found += compare(load_statistics(statistics.uri), load_statistics(baseline_statistics.uri),
                         read_schema(baseline_schema.uri), sorted(expected), rules)
    findings.split_names = anomalies.split_names
    blocked = sum(f.action == "block" for f in found)
    findings.set_int_custom_property("blocked", blocked)
    findings.set_int_custom_property("warnings", sum(f.action == "warn" for f in found))
    with tf.io.gfile.GFile(os.path.join(findings.uri, FINDINGS_FILE), "w") as f:
        json.dump({"baseline": json.loads(baseline) if baseline else None,
                   "findings": [x.as_dict() for x in found]}, f, indent=1)


@component
def DataGate(  # noqa: N802 - TFX components are named like classes
    findings: InputArtifact[ExampleAnomalies],
) -> None:
    """Fails the run when any of the DataValidator's findings blocks it."""
    from pipelines.pipeline.validation import Finding

    blocking = [Finding(**f) for f in read_findings(findings.uri)["findings"]
                if f["action"] == "block"]
    if blocking:
        raise DataValidationError(
            f"data validation failed ({len(blocking)} finding(s)); stopping before training: "
            + "; ".join(f.line() for f in blocking[:3])
            + ("; ..." if len(blocking) > 3 else ""))
