"""What a run report shows, read from the run's record and its artifacts.

Everything here is data (numbers, names, chart geometry); the page and the
model card are Jinja2 templates (``templates/``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from pipelines.config.model_config import ModelConfig
from pipelines.config.slices import slice_label
from pipelines.report.runs import RunRecord

CHART_WIDTH, CHART_HEIGHT = 520, 160


@dataclass
class FeatureFacts:
    name: str
    role: str  # feature | label | slice | other
    type: str
    missing: float
    numbers: dict[str, float] | None = None  # mean, std, min, max
    top: list[tuple[str, float]] = field(default_factory=list)  # value, share
    bars: list[float] = field(default_factory=list)  # histogram heights, 0..1
    drift: tuple[float, float, str] | None = None  # distance, threshold, kind


def _role(config: ModelConfig, name: str) -> str:
    if name == config.label_key:
        return "label"
    if name in config.raw_feature_keys:
        return "feature"
    return "slice" if name in config.slice_columns else "other"


def feature_facts(config: ModelConfig, statistics_uri: str, split: str,
                  baseline=None) -> list[FeatureFacts]:
    """Per column of ``split``: type, missing fraction, numbers or top values, histogram,
    and drift against the baseline's same split when there is a baseline."""
    from pipelines.pipeline.validation import drift, load_statistics, missing_fraction

    stats = load_statistics(statistics_uri).get(split)
    if stats is None:
        return []
    drifts = {}
    if baseline is not None:
        from pipelines.pipeline.baseline import read_schema

        before = load_statistics(baseline.statistics_uri).get(split)
        if before is not None:
            drifts = drift(stats, before, read_schema(baseline.schema_uri),
                           [*config.raw_feature_keys, config.label_key], config.data_validation)
    result = []
    for feature in stats.datasets[0].features:
        name = feature.path.step[0] if feature.path.step else feature.name
        facts = FeatureFacts(name=name, role=_role(config, name),
                             type=_type_name(feature.type),
                             missing=missing_fraction(stats, name), drift=drifts.get(name))
        if feature.HasField("num_stats"):
            n = feature.num_stats
            facts.numbers = {"mean": n.mean, "std": n.std_dev, "min": n.min, "max": n.max}
            buckets = next((h.buckets for h in n.histograms if h.type == 0), [])
            counts = [b.sample_count for b in buckets]
            top = max(counts, default=0)
            facts.bars = [c / top for c in counts] if top else []
        elif feature.HasField("string_stats"):
            s = feature.string_stats
            total = s.common_stats.num_non_missing or 1
            facts.top = [(v.value, v.frequency / total) for v in s.top_values[:5]]
            facts.bars = [share for _, share in facts.top]
        result.append(facts)
    order = {"label": 0, "feature": 1, "slice": 2, "other": 3}
    return sorted(result, key=lambda f: (order[f.role], f.name))


def _type_name(value: int) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    return statistics_pb2.FeatureNameStatistics.Type.Name(value).lower()


def training_history(model_run_uri: str | None) -> dict[str, Any] | None:
    """Loss and metrics per point as the Trainer recorded them: one chart per metric
    with its training and validation curves together (as TensorBoard draws them); a
    metric that is 0 at every point (regression accuracy) is named, not charted."""
    from pipelines.trainer.run_fn import HISTORY_FILE

    if not model_run_uri or not os.path.exists(os.path.join(model_run_uri, HISTORY_FILE)):
        return None
    with open(os.path.join(model_run_uri, HISTORY_FILE)) as f:
        record = json.load(f)
    metrics = record["metrics"]
    per_point = record.get("epochs_per_point", 1)
    final = {k: v[-1] for k, v in metrics.items() if v}
    charts, flat = [], []
    for name, values in metrics.items():
        if name.startswith("val_") or not values:
            continue
        validation = metrics.get(f"val_{name}", [])
        if all(v == 0 for v in (*values, *validation)):
            flat.append(name)
            continue
        # Validated at the recorded points (older records: at the last ones).
        at = record.get("validated_at") or []
        if len(at) != len(validation):
            at = list(range(len(values) - len(validation) + 1, len(values) + 1))
        charts.append(line_chart(name, values, validation, at, per_point))
    return {"steps_per_epoch": record["steps_per_epoch"], "epochs_per_point": per_point,
            "final": final, "charts": charts, "flat": flat}


def log_axis(values: list[float]) -> bool:
    """A log axis when every value is positive and the largest is at least 4 times the
    smallest: a first loss of 13.9 would flatten the rest (about 1.1) into a line."""
    return min(values) > 0 and max(values) >= 4 * min(values)


def line_chart(name: str, training: list[float], validation: list[float] = (),
               validated_at: list[int] = (), epochs_per_point: int = 1) -> dict[str, Any]:
    """Polylines of a metric's training curve (one value per point) and its validation
    values (at the 1-based ``validated_at`` points) in a CHART_WIDTH x CHART_HEIGHT box;
    the x axis counts epochs (``epochs_per_point`` per point)."""
    values = [*training, *validation]
    low, high = min(values), max(values)
    log = log_axis(values)

    def scaled(v: float) -> float:
        return math.log10(v) if log else v

    span = (scaled(high) - scaled(low)) or 1.0
    left, right, top, bottom = 48, CHART_WIDTH - 12, 12, CHART_HEIGHT - 24
    step = (right - left) / max(len(training) - 1, 1)

    def curve(kind: str, points: list[tuple[int, float]]) -> dict[str, Any]:
        dots = [(left + (i - 1) * step, bottom - (scaled(v) - scaled(low)) / span
                 * (bottom - top)) for i, v in points]
        return {"kind": kind, "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in dots),
                "dots": dots}

    curves = [curve("training", list(enumerate(training, start=1)))]
    if validation:
        curves.append(curve("validation", list(zip(validated_at, validation, strict=True))))
    return {"name": name, "low": low, "high": high, "epochs": len(training) * epochs_per_point,
            "first_epoch": epochs_per_point, "log": log,
            "curves": curves, "box": (left, right, top, bottom)}


def bar_chart(metric: str, rows: list[dict], overall: float | None,
              bounds: dict[str, float | None]) -> dict[str, Any]:
    """One fairness metric by slice: a bar per slice, the overall value and the gap band."""
    values = [r["value"] for r in rows if r["value"] is not None]
    candidates = [*values, *(v for v in (overall, bounds.get("lower_bound"),
                                         bounds.get("upper_bound")) if v is not None)]
    high = max(candidates, default=1.0) or 1.0
    left, right, top, bottom = 48, CHART_WIDTH - 84, 12, CHART_HEIGHT - 36  # labels right
    width = (right - left) / max(len(rows), 1)

    def y(value: float) -> float:
        return bottom - value / high * (bottom - top)

    bars = [{"x": left + i * width + width * 0.15, "width": width * 0.7,
             "y": y(r["value"]) if r["value"] is not None else bottom,
             "height": bottom - y(r["value"]) if r["value"] is not None else 0,
             "label": r["label"], "status": r["status"], "value": r["value"],
             "label_x": left + i * width + width / 2}
            for i, r in enumerate(rows)]
    lines = []
    if overall is not None:
        lines.append({"y": y(overall), "kind": "overall", "label": f"overall {overall:.3g}"})
        gap = bounds.get("max_gap")
        if gap is not None:
            for edge in (overall - gap, overall + gap):
                if 0 <= edge <= high:
                    lines.append({"y": y(edge), "kind": "gap", "label": ""})
    for key in ("lower_bound", "upper_bound"):
        if bounds.get(key) is not None:
            lines.append({"y": y(bounds[key]), "kind": "bound", "label": key})
    return {"metric": metric, "bars": bars, "lines": lines, "box": (left, right, top, bottom),
            "high": high}


def fairness_facts(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fairness report with a bar chart per gated metric."""
    if report is None:
        return None
    charts = []
    for name in report["metrics"]:
        rows = [{"label": f"{row['column']}={row['value']}",
                 "value": row["metrics"][name]["value"],
                 "status": row["metrics"][name]["status"]} for row in report["slices"]]
        charts.append(bar_chart(name, rows, report["overall"]["metrics"][name],
                                report["bounds"][name]))
    return {**report, "charts": charts}


def slice_metrics(config: ModelConfig, evaluation_uri: str | None) -> list[dict[str, Any]]:
    """The candidate's metrics per ``eval_slices`` value (reporting only)."""
    if not evaluation_uri or not config.eval_slices:
        return []
    import tensorflow_model_analysis as tfma

    names = {"example_count": "examples"}
    names.update({m.tfma_key(config.task): m.name for m in config.eval_metric_spec.metrics})
    order = list(names.values())
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for record in tfma.load_metrics(evaluation_uri):
        keys = record.slice_key.single_slice_keys
        if len(keys) != 1:
            continue
        key = keys[0]
        value = slice_label(next(getattr(key, k) for k in
                                 ("bytes_value", "int64_value", "float_value")
                                 if key.HasField(k)))
        for item in record.metric_keys_and_values:
            if item.key.is_diff or item.key.model_name not in ("", "candidate") \
                    or item.key.name not in names:
                continue
            number = item.value.double_value.value
            rows.setdefault((key.column, value), {})[names[item.key.name]] = number
    from pipelines.pipeline.fairness import value_order

    return [{"column": column, "value": value,
             "metrics": {name: metrics.get(name) for name in order}}
            for (column, value), metrics in sorted(
                rows.items(), key=lambda item: (item[0][0], value_order(item[0][1])))]


@dataclass
class ReportFacts:
    """Everything the report page and the model card show about one run."""

    model: str
    record: RunRecord
    config: ModelConfig
    generated: str
    features: list[FeatureFacts]
    split: str
    training: dict[str, Any] | None
    slices: list[dict[str, Any]]
    fairness: dict[str, Any] | None
    rollout: dict[str, Any] | None
    version: str | None
    scores: list[dict[str, Any]] = field(default_factory=list)  # the model's recent scores

    @property
    def summary(self):
        return self.record.summary
