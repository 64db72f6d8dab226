"""The local twin of Vertex AI Model Monitoring: skew and drift of what the endpoint served.

For each deployed model that answered requests in the window (sampled at the
settings' rate), TFDV statistics of the served instances are compared with
  - skew: the training split's statistics of the version that served them
    (the run that pushed it, from the run history), and
  - drift: the same deployed model's instances in the window before,
with TFDV's distances as Vertex AI computes them (Jensen-Shannon divergence for
numeric features, L-infinity distance for categorical ones) and the stack's
thresholds (``MonitoringSettings.threshold``). A window with fewer than
``min_samples`` requests is "not enough data", never an alert.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pipelines.config.errors import FullcycleError
from pipelines.config.model_config import ModelConfig
from pipelines.settings import Workspace
from pipelines.stack.config import MonitoringSettings

Query = Callable[[str, list], list[tuple]]
RESULT_FILE = "monitoring.json"
HISTORY_FILE = "monitoring.jsonl"
KINDS = ("skew", "drift")


@dataclass
class Alert:
    feature: str
    kind: str  # skew | drift
    measure: str  # jensen-shannon | l-infinity
    distance: float
    threshold: float
    deployed_model_id: str
    version: str | None

    def line(self, window: str) -> str:
        return (f"{self.feature}: {self.kind} {self.distance:.4g} > {self.threshold:g} "
                f"({self.measure}), window {window}, deployed model {self.deployed_model_id}"
                + (f" (version {self.version})" if self.version else ""))


@dataclass
class ModelWindow:
    """One deployed model's part of the window."""

    deployed_model_id: str
    version: str | None
    requests: int
    instances: int
    skew: str  # measured | not enough data | no training statistics
    drift: str  # measured | not enough data (this window or the one before)
    distances: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> feature


@dataclass
class MonitoringResult:
    model: str
    checked_at: float
    start: float
    end: float
    status: str  # ok | alert | not enough data
    models: list[ModelWindow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def window(self) -> str:
        fmt = "%Y-%m-%d %H:%M"
        return f"{time.strftime(fmt, time.localtime(self.start))}–" \
               f"{time.strftime(fmt, time.localtime(self.end))}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "window": self.window}


def parse_window(text: str) -> float:
    """'90s', '30m', '1h', '2d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value, unit = float(text[:-1]), units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise FullcycleError(f"window {text!r} is not a duration like 30m, 1h or 2d") from None
    if value <= 0:
        raise FullcycleError(f"window {text!r} must be longer than 0")
    return value * unit


def _sampled(query: Query, start: float, end: float, rate: float) -> dict[str, list[dict]]:
    """Deployed model id -> served instances in [start, end), a ``rate`` sample of requests
    (the same requests every time: chosen by a hash of the request id)."""
    rows = query("SELECT deployed_model_id, instances FROM requests WHERE ts >= ? AND ts < ? "
                 "AND error IS NULL AND hash(request_id) % 10000 < ?",
                 [start, end, round(rate * 10000)])
    served: dict[str, list[dict]] = {}
    for deployed_id, instances in rows:
        served.setdefault(deployed_id, []).append(orjson.loads(instances))
    return served


def _statistics(requests: list[list[dict]], features: list[str]):
    """TFDV statistics of the served instances' features (in memory, no Beam)."""
    import pandas as pd
    import tensorflow_data_validation as tfdv

    frame = pd.DataFrame([instance for request in requests for instance in request])
    frame = frame.reindex(columns=features)
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(
                lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            frame[column] = frame[column].astype(float)
    return tfdv.generate_statistics_from_dataframe(frame, n_jobs=1)


def comparison_schema(schema, features: list[str], settings: MonitoringSettings):
    """``schema`` with skew and drift comparators at the settings' thresholds, per feature:
    Jensen-Shannon for numeric features, L-infinity for categorical ones."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from pipelines.pipeline.validation import NUMERIC_TYPES

    result = schema_pb2.Schema()
    result.CopyFrom(schema)
    for feature in result.feature:
        feature.ClearField("skew_comparator")
        feature.ClearField("drift_comparator")
        if feature.name not in features:
            continue
        for kind in KINDS:
            comparator = getattr(feature, f"{kind}_comparator")
            threshold = settings.threshold(feature.name, kind)
            if feature.type in NUMERIC_TYPES:
                comparator.jensen_shannon_divergence.threshold = threshold
            else:
                comparator.infinity_norm.threshold = threshold
    return result


def _distances(anomalies, kind: str) -> dict[str, tuple[float, str]]:
    from pipelines.pipeline.validation import drift_skew_values

    return {feature: (value, measure)
            for feature, value, measure in drift_skew_values(anomalies, kind)}


@dataclass
class Version:
    """What the monitoring compares a version's served data with."""

    path: str | None
    statistics: Any = None  # the training split's statistics
    schema: Any = None


def training_of(workspace: Workspace, model: str, path: str | None) -> Version:
    """The training statistics and schema of the run that pushed ``path``."""
    from pipelines.pipeline.baseline import read_schema
    from pipelines.pipeline.validation import load_statistics
    from pipelines.report.runs import list_runs

    if path is None:
        return Version(None)
    for record in list_runs(workspace, model):
        artifacts = record.summary.artifacts
        if record.summary.pushed_path == path and "statistics" in artifacts:
            stats = load_statistics(artifacts["statistics"])
            return Version(path, stats.get("train"), read_schema(artifacts["schema"]))
    return Version(path)


def check(model: ModelConfig, settings: MonitoringSettings, query: Query,
          version_of: Callable[[str], Version], now: float, window_seconds: float) -> \
        MonitoringResult:
    """One analysis of the window [now - window, now) against training data and the window
    before; ``version_of(deployed_model_id)`` gives what that deployed model served."""
    import tensorflow_data_validation as tfdv

    features = [f for f in model.raw_feature_keys if f not in model.sequence_features]
    start = now - window_seconds
    result = MonitoringResult(model.name, time.time(), start, now, "not enough data")
    current = _sampled(query, start, now, settings.sample_rate)
    before = _sampled(query, start - window_seconds, start, settings.sample_rate)
    if not current:
        result.notes.append(f"not enough data: no request in the window {result.window}")
    measured = False
    for deployed_id, requests in sorted(current.items()):
        version = version_of(deployed_id)
        name = Path(version.path).name if version.path else None
        window = ModelWindow(deployed_id, name, len(requests),
                             sum(len(r) for r in requests), "not enough data", "not enough data")
        result.models.append(window)
        if len(requests) < settings.min_samples:
            result.notes.append(f"deployed model {deployed_id}: not enough data, "
                                f"{len(requests)} requests < min_samples {settings.min_samples}")
            continue
        served = _statistics(requests, features)
        schema = version.schema if version.schema is not None else tfdv.infer_schema(served)
        schema = comparison_schema(schema, features, settings)
        if version.statistics is not None:
            skew = tfdv.validate_statistics(version.statistics, schema,
                                            serving_statistics=served)
            window.skew, window.distances["skew"] = "measured", {
                f: d for f, (d, _) in _distances(skew, "skew").items()}
            result.alerts += _alerts(_distances(skew, "skew"), "skew", settings, window)
            measured = True
        else:
            window.skew = "no training statistics for this version"
        previous = before.get(deployed_id, [])
        if len(previous) >= settings.min_samples:
            drift = tfdv.validate_statistics(served, schema, previous_statistics=_statistics(
                previous, features))
            window.drift, window.distances["drift"] = "measured", {
                f: d for f, (d, _) in _distances(drift, "drift").items()}
            result.alerts += _alerts(_distances(drift, "drift"), "drift", settings, window)
            measured = True
        else:
            window.drift = (f"not enough data in the window before ({len(previous)} requests "
                            f"< min_samples {settings.min_samples})")
    result.status = "alert" if result.alerts else "ok" if measured else "not enough data"
    return result


def _alerts(distances: dict[str, tuple[float, str]], kind: str, settings: MonitoringSettings,
            window: ModelWindow) -> list[Alert]:
    return [Alert(feature, kind, measure, distance, settings.threshold(feature, kind),
                  window.deployed_model_id, window.version)
            for feature, (distance, measure) in sorted(distances.items())
            if distance > settings.threshold(feature, kind)]


def record(root: Path, result: MonitoringResult) -> None:
    """The latest result next to the endpoint's state, and a line in its history."""
    root.mkdir(parents=True, exist_ok=True)
    data = json.dumps(result.as_dict())
    tmp = root / (RESULT_FILE + ".tmp")
    tmp.write_text(data)
    tmp.replace(root / RESULT_FILE)
    with (root / HISTORY_FILE).open("a") as history:
        history.write(data + "\n")


def check_endpoint(workspace: Workspace, model: ModelConfig, settings: MonitoringSettings,
                   window_seconds: float, now: float | None = None,
                   query: Query | None = None, state=None) -> MonitoringResult:
    """Checks the model's local endpoint: in the serving process (``query``/``state`` of its
    request log and state) or, without one, from the files; records the result."""
    import duckdb

    from pipelines.serving.endpoint import EndpointState

    root = workspace.endpoint_dir(model.name)
    state = state or EndpointState.load(root / "endpoint.json")
    con = None
    if query is None:
        log = root / "requests.duckdb"
        if not log.exists():
            raise FullcycleError(f"model {model.name!r} has no request log at {log}: its "
                                 f"endpoint has served nothing (`fullcycle serve-endpoint "
                                 f"{model.name}`)")
        con = duckdb.connect(str(log), read_only=True)
        query = lambda sql, params: con.execute(sql, params).fetchall()  # noqa: E731
    versions: dict[str, Version] = {}

    def version_of(deployed_id: str) -> Version:
        if deployed_id not in versions:
            versions[deployed_id] = training_of(workspace, model.name,
                                                state.model_of(deployed_id))
        return versions[deployed_id]

    try:
        result = check(model, settings, query, version_of,
                       time.time() if now is None else now, window_seconds)
    finally:
        if con is not None:
            con.close()
    record(root, result)
    return result


def monitoring_settings(model: str, stack: str) -> MonitoringSettings:
    """The model's ``monitoring:`` block in ``Pulumi.<stack>.yaml``; defaults if not there."""
    from pipelines.stack.config import StackConfig

    entry = StackConfig.load(stack).entry(model)
    return entry.monitoring if entry else MonitoringSettings()


def monitor_model(workspace: Workspace, model: str, stack: str, window_seconds: float) -> dict:
    """Checks ``model``'s local endpoint: through its server when one runs (it holds the
    request log), else from the files. The result as a dict (``MonitoringResult``)."""
    from pipelines.config.registry import load_config
    from pipelines.serving.rollout import endpoint_client, served_url

    config = load_config(model)
    settings = monitoring_settings(model, stack)
    if served_url(workspace.endpoint_dir(model)) is not None:
        client = endpoint_client(workspace, model)
        try:
            return client.monitor(window_seconds)
        finally:
            client.close()
    return check_endpoint(workspace, config, settings, window_seconds).as_dict()


def endpoint_monitor(workspace: Workspace, model: str, stack: str, local) -> \
        Callable[[float], dict]:
    """The check a serving process runs on its own request log and state."""
    from pipelines.config.registry import load_config

    config, settings = load_config(model), monitoring_settings(model, stack)
    return lambda window: check_endpoint(workspace, config, settings, window,
                                         query=local.log.query, state=local.state).as_dict()
