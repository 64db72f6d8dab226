"""Data validation against the baseline: the checks the DataValidator runs, as plain functions.

The baseline is the data of the model's last blessed run (its statistics and
inferred schema). Per split found in both runs, with TFDV:

- ``example_count``: the relative change of the split's number of examples;
- ``missing_fraction``: the rise of each declared feature's fraction of missing values;
- ``drift``: Jensen-Shannon divergence of numeric columns' histograms, L-infinity
  distance of string columns' value frequencies (``validate_statistics`` with
  ``previous_statistics``; the thresholds go into the schema's drift comparators);
- ``type_and_domain``: against the baseline schema (presence is left to
  the missing-value check; a categorical column may have the configured fraction
  of its values outside the baseline's domain).

Each finding names the split, feature, check, value, threshold, baseline and
now, and carries the check's action (block or warn).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

from tensorflow_metadata.proto.v0 import schema_pb2

from pipelines.config.data_validation import Check, DataValidation

NUMERIC_TYPES = (schema_pb2.INT, schema_pb2.FLOAT)
DRIFT_TYPES = {"JENSEN_SHANNON_DIVERGENCE": "jensen-shannon", "L_INFTY": "l-infinity"}
# Anomaly reasons that are not type-and-domain findings: drift has its own check, a
# column new since the baseline is a feature the config just declared (the declared
# check judges its type), a dropped one is the declared check's or the missing check's.
JUDGED_ELSEWHERE = {"COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "COMPARATOR_L_INFTY_HIGH",
                    "SCHEMA_NEW_COLUMN", "SCHEMA_MISSING_COLUMN"}


@dataclass(frozen=True)
class Finding:
    split: str
    feature: str
    check: str  # example_count | missing_fraction | drift | type_and_domain | declared
    value: float | None
    threshold: float | None
    baseline: str
    now: str
    action: str  # block | warn | info (reported only: what could not be checked)
    detail: str = ""

    def line(self) -> str:
        """One line for people: measured checks with their value, threshold, baseline and now."""
        if self.value is None:
            text = f"{self.check} - {self.now}" + (f": {self.detail}" if self.detail else "")
        else:
            text = (f"{self.check} {self.value:.4g} > {self.threshold:g}; baseline "
                    f"{self.baseline}, now {self.now}"
                    + (f" ({self.detail})" if self.detail else ""))
        return f"[{self.split}] {self.feature}: {text}" + ("" if self.action == "block"
                                                          else f" [{self.action}]")

    def as_dict(self) -> dict:
        return asdict(self)


def load_statistics(uri: str) -> dict[str, object]:
    """Split name -> DatasetFeatureStatisticsList of an ExampleStatistics artifact's directory."""
    import tensorflow as tf
    from tensorflow_data_validation.utils.stats_util import load_stats_binary

    stats = {}
    for entry in sorted(tf.io.gfile.listdir(uri)):
        name = entry.rstrip("/")
        path = os.path.join(uri, name, "FeatureStats.pb")
        if name.startswith("Split-") and tf.io.gfile.exists(path):
            stats[name.removeprefix("Split-")] = load_stats_binary(path)
    return stats


def _feature_stats(stats) -> dict[str, object]:
    return {f.path.step[0] if f.path.step else f.name: f for f in stats.datasets[0].features}


def _common(feature) -> object | None:
    for kind in ("num_stats", "string_stats", "bytes_stats", "struct_stats"):
        if feature.HasField(kind):
            return getattr(feature, kind).common_stats
    return None


def missing_fraction(stats, feature: str) -> float:
    """The fraction of examples without a value of ``feature`` (1.0 if the column is gone)."""
    found = _feature_stats(stats).get(feature)
    common = _common(found) if found is not None else None
    if common is None:
        return 1.0
    total = common.num_missing + common.num_non_missing
    return common.num_missing / total if total else 1.0


def reference_schema(baseline_schema, features: list[str], checks: DataValidation):
    """The baseline schema prepared for comparing: drift comparators with the thresholds,
    presence and shape left to the missing-value check, domains allowing unseen values."""
    schema = schema_pb2.Schema()
    schema.CopyFrom(baseline_schema)
    for feature in schema.feature:
        feature.ClearField("presence")
        feature.ClearField("shape")
        feature.ClearField("value_count")
        if feature.name not in features:
            feature.ClearField("drift_comparator")
            continue
        numeric = feature.type in NUMERIC_TYPES
        threshold = checks.drift_check(feature.name, numeric).threshold
        if numeric:
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold
        else:
            feature.drift_comparator.infinity_norm.threshold = threshold
        if feature.HasField("domain") or feature.HasField("string_domain"):
            allowed_outside = checks.type_and_domain.threshold
            feature.distribution_constraints.min_domain_mass = 1.0 - allowed_outside
    return schema


def _flag(check: Check, value: float) -> bool:
    return value > check.threshold + 1e-12


def compare(current: dict, baseline: dict, baseline_schema, features: list[str],
            checks: DataValidation) -> list[Finding]:
    """Every finding of ``current`` statistics against the baseline's, split by split."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    schema = reference_schema(baseline_schema, features, checks)
    types = {f.name: f.type for f in schema.feature}
    findings: list[Finding] = []
    for split in sorted(set(current) & set(baseline)):
        now, before = current[split], baseline[split]
        n_now, n_before = now.datasets[0].num_examples, before.datasets[0].num_examples
        change = abs(n_now / n_before - 1) if n_before else math.inf
        if _flag(checks.example_count, change):
            findings.append(Finding(split, "*", "example_count", change,
                                    checks.example_count.threshold, f"{n_before} examples",
                                    f"{n_now} examples", checks.example_count.action))
        for feature in features:
            check = checks.missing_check(feature)
            m_now, m_before = missing_fraction(now, feature), missing_fraction(before, feature)
            if _flag(check, m_now - m_before):
                findings.append(Finding(split, feature, "missing_fraction", m_now - m_before,
                                        check.threshold, f"{m_before:.1%} missing",
                                        f"{m_now:.1%} missing", check.action))
        few = min(n_now, n_before) < checks.min_examples
        if few:
            findings.append(Finding(split, "*", "drift", None, None, f"{n_before} examples",
                                    f"not measured: {min(n_now, n_before)} examples, fewer "
                                    f"than min_examples {checks.min_examples}", "info"))
        anomalies = tfdv.validate_statistics(now, schema, previous_statistics=before)
        for feature, value, kind in [] if few else drift_skew_values(anomalies):
            if feature not in features:
                continue
            check = checks.drift_check(feature, types.get(feature) in NUMERIC_TYPES)
            if _flag(check, value):
                findings.append(Finding(
                    split, feature, "drift", value, check.threshold, _summary(before, feature),
                    _summary(now, feature), check.action, kind))
        for feature, info in sorted(anomalies.anomaly_info.items()):
            reasons = [r for r in info.reason
                       if anomalies_pb2.AnomalyInfo.Type.Name(r.type) not in JUDGED_ELSEWHERE]
            if feature in features and reasons:
                findings.append(Finding(
                    split, feature, "type_and_domain", None, None, "as the baseline schema says",
                    "; ".join(r.short_description for r in reasons), checks.type_and_domain.action,
                    "; ".join(r.description for r in reasons)))
    return findings


def drift_skew_values(anomalies, kind: str = "drift"):
    """(feature, distance, measure) of every drift (or ``skew``) measurement TFDV made."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    for info in anomalies.drift_skew_info:
        for measurement in getattr(info, f"{kind}_measurements"):
            measure = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(measurement.type)
            yield info.path.step[0], measurement.value, DRIFT_TYPES.get(measure, measure.lower())


def drift(now, before, baseline_schema, features: list[str],
          checks: DataValidation) -> dict[str, tuple[float, float, str]]:
    """Feature -> (distance, threshold, kind) of one split against the baseline's split,
    every feature measured (the run report's view; ``compare`` keeps those over)."""
    import tensorflow_data_validation as tfdv

    schema = reference_schema(baseline_schema, features, checks)
    types = {f.name: f.type for f in schema.feature}
    anomalies = tfdv.validate_statistics(now, schema, previous_statistics=before)
    return {feature: (value, checks.drift_check(feature, types.get(feature) in NUMERIC_TYPES)
                      .threshold, kind)
            for feature, value, kind in drift_skew_values(anomalies) if feature in features}


def _summary(stats, feature: str) -> str:
    """A feature's distribution in a few words: mean and spread, or its most frequent value."""
    found = _feature_stats(stats).get(feature)
    if found is None:
        return "absent"
    if found.HasField("num_stats"):
        s = found.num_stats
        return f"mean {s.mean:.4g}, std {s.std_dev:.4g}"
    if found.HasField("string_stats") and found.string_stats.top_values:
        top = found.string_stats.top_values[0]
        total = found.string_stats.common_stats.num_non_missing or 1
        return f"top {top.value!r} {top.frequency / total:.0%}, {found.string_stats.unique} values"
    return "present"
