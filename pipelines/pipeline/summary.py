"""What a run did, read back from ML Metadata: the summary ``fullcycle run`` prints.

Per component: state (ran, cached, failed) and seconds; rows per split;
anomalies; each metric against its thresholds and the baseline; fairness per
slice; blessed or not; where the model was pushed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipelines.config.model_config import ModelConfig
from pipelines.settings import Workspace


@dataclass
class ComponentResult:
    node_id: str
    state: str  # COMPLETE | CACHED | FAILED | NOT_RUN
    seconds: float | None


@dataclass
class MetricResult:
    name: str
    value: float | None
    baseline: float | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    change_limit: float | None = None
    passed: bool | None = None
    note: str | None = None  # why the value means nothing for this task (regression accuracy)


@dataclass
class RunSummary:
    """Everything a person wants to know after a run."""

    model: str
    run_id: str | None
    seconds: float
    error: str | None = None
    components: list[ComponentResult] = field(default_factory=list)
    split_rows: dict[str, int] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)  # every data finding, one line each
    validation: dict[str, Any] | None = None  # {"baseline", "findings", "blocked"}
    metrics: list[MetricResult] = field(default_factory=list)
    fairness: dict[str, Any] | None = None  # the FairnessGate's report (pipeline.fairness)
    blessed: bool | None = None
    infra_validation: dict[str, Any] | None = None  # InfraValidator's result
    pushed_path: str | None = None
    deployment: str | None = None  # what deploying the pushed version to its endpoint did
    log: str | None = None  # a failed run's full log (library errors and the trace)
    cache: str | None = None  # "run" when the whole run was answered from the run cache
    started_at: float | None = None  # epoch seconds
    artifacts: dict[str, str] = field(default_factory=dict)  # output name -> URI (ARTIFACTS)
    report: str | None = None  # the run report's HTML page
    # The tuning result the Trainer trained with (pipeline.tuner.TunedHyperparameters), or None.
    hyperparameters: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def cached(self) -> list[str]:
        return [c.node_id for c in self.components if c.state == "CACHED"]

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        data = dict(data)
        data["components"] = [ComponentResult(**c) for c in data.get("components", [])]
        data["metrics"] = [MetricResult(**m) for m in data.get("metrics", [])]
        return cls(**data)


def _store(workspace: Workspace, model: str):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(workspace.metadata_path(model))
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _outputs_by_node(store, run_context) -> tuple[dict[str, Any], dict[str, dict[str, list]]]:
    """Latest execution and output artifacts (by type name) of every node in a run."""
    from ml_metadata.proto import metadata_store_pb2

    executions = {}
    for execution in store.get_executions_by_context(run_context.id):
        nodes = [c.name for c in store.get_contexts_by_execution(execution.id)
                 if c.type == "node"]
        if nodes:
            executions[nodes[0].split(".", 1)[1]] = execution
    outputs: dict[str, dict[str, list]] = {}
    for node, execution in executions.items():
        events = store.get_events_by_execution_ids([execution.id])
        ids = [e.artifact_id for e in events
               if e.type in (metadata_store_pb2.Event.OUTPUT,
                             metadata_store_pb2.Event.DECLARED_OUTPUT)]
        for artifact in store.get_artifacts_by_id(ids):
            outputs.setdefault(node, {}).setdefault(artifact.type, []).append(artifact)
    return executions, outputs


def split_rows(statistics_uri: str) -> dict[str, int]:
    """Examples per split of an ExampleStatistics artifact (local or gs://)."""
    from pipelines.pipeline.validation import load_statistics

    return {split: stats.datasets[0].num_examples
            for split, stats in load_statistics(statistics_uri).items()}


def evaluation_metrics(evaluation_uri: str, config: ModelConfig,
                       blessed: bool | None) -> list[MetricResult]:
    """Each configured metric of the candidate (overall slice) against bounds and baseline."""
    import tensorflow_model_analysis as tfma

    overall: dict[tuple[str, str, bool], float] = {}
    for record in tfma.load_metrics(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for item in record.metric_keys_and_values:
            overall[(item.key.name, item.key.model_name, item.key.is_diff)] = \
                item.value.double_value.value
    failed: set[str] = set()
    validation = tfma.load_validation_result(evaluation_uri)
    for slice_failure in validation.metric_validations_per_slice:
        failed.update(f.metric_key.name for f in slice_failure.failures)

    models = {model for _, model, _ in overall}

    def value(name: str, model: str) -> float | None:
        if model not in models:  # a single-model evaluation has no model names
            return overall.get((name, "", False)) if model == "candidate" else None
        return overall.get((name, model, False))

    results = [MetricResult("example_count", value("example_count", "candidate"))]
    for metric in config.eval_metric_spec.metrics:
        key = metric.tfma_key(config.task)
        results.append(MetricResult(
            name=metric.name, value=value(key, "candidate"), baseline=value(key, "baseline"),
            lower_bound=metric.lower_bound, upper_bound=metric.upper_bound,
            change_limit=metric.absolute_change, note=metric.note(config.task),
            passed=(key not in failed) if metric.bounded and blessed is not None else None))
    return results


# What the run report reads: (summary key, producing node prefix, artifact type).
ARTIFACTS = (
    ("statistics", "StatisticsGen", "ExampleStatistics"),
    ("schema", "SchemaGen", "Schema"),
    ("schema", "ImportSchemaGen", "Schema"),
    ("findings", "DataValidator", "ExampleAnomalies"),
    ("model", "Trainer", "Model"),
    ("model_run", "Trainer", "ModelRun"),
    ("evaluation", "Evaluator", "ModelEvaluation"),
)


def summarize(config: ModelConfig, workspace: Workspace, pipeline, timings: dict,
              seconds: float, error: BaseException | None) -> RunSummary:
    """Reads the latest run of ``config``'s pipeline back from ML Metadata."""
    summary = RunSummary(model=config.name, run_id=None, seconds=seconds,
                         error=None if error is None else str(error))
    store = _store(workspace, config.name)
    runs = sorted(store.get_contexts_by_type("pipeline_run"),
                  key=lambda c: c.create_time_since_epoch)
    if not runs:
        return summary
    summary.run_id = runs[-1].name
    executions, outputs = _outputs_by_node(store, runs[-1])
    from ml_metadata.proto import metadata_store_pb2

    for node in pipeline.components:
        execution = executions.get(node.id)
        state = ("NOT_RUN" if execution is None
                 else metadata_store_pb2.Execution.State.Name(execution.last_known_state))
        timing = timings.get(node.id)
        summary.components.append(ComponentResult(node.id, state, timing and timing.seconds))

    def first(node_type: str, artifact_type: str):
        for node, by_type in outputs.items():
            if node.startswith(node_type) and by_type.get(artifact_type):
                return by_type[artifact_type][0]
        return None

    for key, node_type, artifact_type in ARTIFACTS:
        if (artifact := first(node_type, artifact_type)) is not None:
            summary.artifacts[key] = artifact.uri
    if (stats := first("StatisticsGen", "ExampleStatistics")) is not None:
        summary.split_rows = split_rows(stats.uri)
    if (findings := first("DataValidator", "ExampleAnomalies")) is not None:
        from pipelines.pipeline.gate import read_findings
        from pipelines.pipeline.validation import Finding

        found = read_findings(findings.uri)
        listed = [Finding(**f) for f in found["findings"]]
        summary.anomalies = [f.line() for f in listed]
        summary.validation = {**found, "blocked": sum(f.action == "block" for f in listed)}
    if (blessing := first("Evaluator", "ModelBlessing")) is not None:
        summary.blessed = bool(blessing.custom_properties["blessed"].int_value)
    if (evaluation := first("Evaluator", "ModelEvaluation")) is not None:
        summary.metrics = evaluation_metrics(evaluation.uri, config, summary.blessed)
        if config.fairness is not None:
            from pipelines.pipeline.fairness import read_report

            summary.fairness = read_report(evaluation.uri)
    if (infra := first("InfraValidator", "InfraBlessing")) is not None \
            and "result" in infra.custom_properties:
        summary.infra_validation = json.loads(infra.custom_properties["result"].string_value)
    if (pushed := first("Pusher", "PushedModel")) is not None \
            and pushed.custom_properties["pushed"].int_value:
        summary.pushed_path = pushed.custom_properties["pushed_destination"].string_value
    return summary
