"""The typed model config: one object per model folder, validated before anything runs.

Field names keep the original platform's meanings (``_LABEL_KEY``,
``_DENSE_FLOAT_FEATURE_KEYS``, ``_BUCKET_FEATURES``, ``_VOCAB_FEATURES``, ...).
Feature declarations are the one source of truth: they drive the transform, the
Keras model inputs, the data checks and the serving signatures.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from pipelines.config.batch_prediction import BatchPrediction
from pipelines.config.data_validation import DataValidation
from pipelines.config.errors import did_you_mean, not_allowed
from pipelines.config.fairness import Fairness, fairness_metrics_for
from pipelines.config.metrics import MetricSpec, Task
from pipelines.config.tuning import TUNABLES, Tuning, check_search_space
from pipelines.features.kinds import FEATURE_KINDS, declared

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

OPTIMIZERS = ("Adagrad", "Adam", "Adamax", "Ftrl", "Nadam", "RMSprop", "SGD")
ACTIVATIONS = ("elu", "gelu", "linear", "relu", "selu", "sigmoid", "swish", "tanh")
KERAS_METRICS = ("AUC", "Accuracy", "BinaryAccuracy", "MeanAbsoluteError",
                 "MeanAbsolutePercentageError", "MeanSquaredError", "Precision",
                 "Recall", "RootMeanSquaredError", "SparseCategoricalAccuracy")
MODEL_TYPES = ("dnn", "wide_deep", "rnn")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VocabSpec(_Frozen):
    """A string feature mapped through a vocabulary of its ``top_k`` values."""

    top_k: PositiveInt = Field(description="Keep the k most frequent values.")
    num_oov_buckets: PositiveInt = Field(1, description="Hash buckets for other values.")


class SequenceSpec(_Frozen):
    """A variable-length float sequence, padded or cut to ``max_length`` (RNN input)."""

    max_length: PositiveInt = Field(description="Steps kept per sequence.")


class Impute(_Frozen):
    """How a missing value is filled: from a whole-dataset statistic or a constant."""

    strategy: Literal["mean", "median", "most_frequent", "constant"]
    value: float | str | None = None

    @model_validator(mode="after")
    def _constant_has_value(self) -> Impute:
        if (self.strategy == "constant") != (self.value is not None):
            raise ValueError("imputation 'constant' needs a value, and only it takes one")
        return self


class DataSource(_Frozen):
    """Where examples come from, and how rows are split into train/eval.

    ``query`` may refer to the model's dataset as ``{dataset}``: ``main`` in the
    local DuckDB warehouse, the model's BigQuery dataset in the cloud.
    """

    table: str | None = Field(None, description="A table in the model's dataset.")
    query: str | None = Field(None, description="A SELECT; {dataset} names the dataset.")
    split_key: tuple[str, ...] = Field(description="Column(s) hashed to pick each row's split.")
    splits: dict[str, PositiveInt] = Field(
        default_factory=lambda: {"train": 80, "eval": 20},
        description="Split name -> percentage of rows; must sum to 100.")

    @field_validator("split_key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> DataSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if self.table is not None and not IDENTIFIER.match(self.table):
            raise ValueError(f"table {self.table!r} is not a plain table name")
        if not self.split_key:
            raise ValueError("split_key needs at least one column")
        for col in self.split_key:
            if not IDENTIFIER.match(col):
                raise ValueError(f"split_key column {col!r} is not a valid column name")
        total = sum(self.splits.values())
        if total != 100:
            raise ValueError(f"split percentages {self.splits} sum to {total}, not 100")
        missing = {"train", "eval"} - set(self.splits)
        if missing:
            raise ValueError(f"splits {sorted(self.splits)} lack {sorted(missing)}; "
                             "'train' and 'eval' are required")
        return self


class TrainingArgs(_Frozen):
    """Keras model and optimizer settings (the original ``_TRAINING_ARGS``)."""

    dnn_hidden_units: tuple[PositiveInt, ...] = Field((64, 32), min_length=1)
    optimizer: str = Field("Adam", description="A tf.keras optimizer name or class.")
    optimizer_kwargs: dict[str, float | int | bool | str] = Field(default_factory=dict)
    layer_activation: str | None = Field("relu", description="None means linear.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    metrics: tuple[str, ...] = ()
    rnn_cell: Literal["gru", "lstm"] = "gru"
    rnn_units: PositiveInt = 32

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_name(cls, value: Any) -> Any:
        name = getattr(value, "__name__", value)  # accept tf.keras.optimizers.Adam too
        if name not in OPTIMIZERS:
            raise ValueError(not_allowed("optimizer", name, OPTIMIZERS))
        return name

    @field_validator("layer_activation")
    @classmethod
    def _activation(cls, value: str | None) -> str | None:
        if value is not None and value not in ACTIVATIONS:
            raise ValueError(not_allowed("layer_activation", value, ACTIVATIONS))
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in KERAS_METRICS:
                raise ValueError(not_allowed("Keras metric", name, KERAS_METRICS))
        return value


class InfraValidation(_Frozen):
    """Load-and-query before push: the candidate is served in a separate process."""

    enabled: bool = True
    requests: PositiveInt = Field(20, description="Requests sent after one warm-up request.")
    batch_size: PositiveInt = Field(8, description="Eval-split examples per request.")
    max_latency_ms: float = Field(250.0, gt=0, description="Budget for the p99 request latency.")
    timeout_seconds: PositiveInt = Field(300, description="Budget for loading and querying.")


class ModelCard(_Frozen):
    """What the model card says beyond the run's facts (all optional)."""

    description: str = Field("", description="What the model predicts, in a sentence or two.")
    owners: tuple[str, ...] = Field((), description="People or teams answerable for it.")
    intended_use: str = Field("", description="Who uses its predictions, for what.")
    limitations: tuple[str, ...] = Field((), description="Known limits and cases it fails.")


class ModelConfig(_Frozen):
    """Everything fullcycle needs to build, train, evaluate and push one model."""

    name: str = Field("", description="The model folder's name; set by the loader.")
    task: Task = "regression"
    label_key: str
    num_classes: PositiveInt | None = Field(None, description="Multiclass only: labels 0..n-1.")
    dense_float_features: tuple[str, ...] = ()
    categorical_int_features: dict[str, PositiveInt] = Field(default_factory=dict)
    bucket_features: dict[str, PositiveInt] = Field(default_factory=dict)
    vocab_features: dict[str, VocabSpec] = Field(default_factory=dict)
    sequence_features: dict[str, SequenceSpec] = Field(default_factory=dict)
    imputation: dict[str, Impute] = Field(default_factory=dict)
    scaling: dict[str, Literal["z_score", "min_max", "log", "none"]] = Field(default_factory=dict)
    model_type: Literal["dnn", "wide_deep", "rnn"] = "dnn"
    train_batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = 128
    num_epochs: PositiveInt | None = None
    train_steps: PositiveInt | None = None
    eval_steps: PositiveInt | None = None
    training_args: TrainingArgs = Field(default_factory=TrainingArgs)
    eval_metric_spec: MetricSpec = Field(default_factory=MetricSpec)
    source: DataSource
    eval_slices: tuple[str, ...] = Field(
        (), description="Source columns to report metrics by (reporting only, no gate).")
    fairness: Fairness | None = Field(None, description="Per-slice gates on blessing.")
    infra_validation: InfraValidation = Field(default_factory=InfraValidation)
    data_validation: DataValidation = Field(default_factory=DataValidation)
    enable_pusher: bool = True
    seed: NonNegativeInt = 42
    model_card: ModelCard = Field(default_factory=ModelCard,
                                  description="Description, owners, intended use, limitations.")
    model_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the folder's own build_keras_model (model.py), which "
                    "reads config.model_args[name] and declares each in its TUNABLES.")
    tuning: Tuning | None = Field(None, description="What `fullcycle tune` searches; runs "
                                                    "train with its last result.")
    batch_prediction: BatchPrediction = Field(
        default_factory=BatchPrediction,
        description="What `fullcycle score` reads (default: the training source) and where "
                    "the scores go (default: <model>_predictions).")

    @field_validator("model_args")
    @classmethod
    def _model_args(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, setting in value.items():
            if not IDENTIFIER.match(key):
                raise ValueError(f"model_args: {key!r} is not a name (letters, digits, _)")
            if key in TUNABLES:
                raise ValueError(f"model_args: {key!r} is a prebuilt model's setting; set it "
                                 "where the config has it (training_args, train_batch_size)")
            try:
                json.dumps(setting)
            except TypeError:
                raise ValueError(f"model_args[{key!r}]: {setting!r} is not a JSON value "
                                 "(numbers, strings, booleans, lists, dicts)") from None
        return value

    @field_validator("imputation", mode="before")
    @classmethod
    def _impute_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"strategy": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    # -- derived views -------------------------------------------------------
    @property
    def feature_groups(self) -> dict[str, tuple[str, ...]]:
        """Declared columns per feature kind (``pipelines.features.kinds``), in field order."""
        order = list(type(self).model_fields)
        return {kind.field: tuple(key for key, _ in declared(self, kind))
                for kind in sorted(FEATURE_KINDS, key=lambda kind: order.index(kind.field))}

    @property
    def raw_feature_keys(self) -> tuple[str, ...]:
        """Every input column the model reads, in declaration order, without repeats."""
        seen: dict[str, None] = {}
        for keys in self.feature_groups.values():
            seen.update(dict.fromkeys(keys))
        return tuple(seen)

    @property
    def slice_columns(self) -> tuple[str, ...]:
        """Source columns the Evaluator slices by: ``eval_slices`` and ``fairness.slice_by``."""
        gated = self.fairness.slice_by if self.fairness else ()
        return tuple(dict.fromkeys((*self.eval_slices, *gated)))

    @property
    def score_keys(self) -> tuple[str, ...]:
        """The columns identifying a scored row: ``batch_prediction.keys`` or the split key."""
        return self.batch_prediction.keys or self.source.split_key

    @property
    def score_destination(self) -> str:
        """The table scores are appended to: ``batch_prediction.destination`` or
        ``<model>_predictions``."""
        return self.batch_prediction.destination or f"{self.name}_predictions"

    @property
    def numeric_keys(self) -> tuple[str, ...]:
        """Float columns: dense features and bucketized columns."""
        return tuple(dict.fromkeys((*self.dense_float_features, *self.bucket_features)))

    # -- cross-field rules ---------------------------------------------------
    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        for key in (self.label_key, *self.raw_feature_keys):
            if not IDENTIFIER.match(key):
                raise ValueError(f"feature name {key!r} must be a letter or _ followed by "
                                 "letters, digits or _ (at most 128)")
        if not self.raw_feature_keys:
            raise ValueError("declare at least one feature")
        self._check_groups()
        self._check_per_feature_settings()
        self._check_task()
        self.batch_prediction.check_with(self.label_key, self.source.table, self.score_keys)
        if (self.num_epochs is None) == (self.train_steps is None):
            raise ValueError("give exactly one of num_epochs or train_steps")
        if (self.model_type == "rnn") != bool(self.sequence_features):
            raise ValueError("model_type 'rnn' needs sequence_features, and only it uses them")
        return self

    def _check_groups(self) -> None:
        groups = self.feature_groups
        for group, keys in groups.items():
            if self.label_key in keys:
                raise ValueError(f"label {self.label_key!r} is also listed in {group}; "
                                 "the label cannot be a feature")
        # A bucket feature may also be dense (it is a second view of a float
        # column); any other overlap gives one column two meanings.
        exclusive = dict(groups)
        exclusive["dense_float_features"] = tuple(
            dict.fromkeys((*groups["dense_float_features"], *groups["bucket_features"])))
        del exclusive["bucket_features"]
        owner: dict[str, str] = {}
        for group, keys in exclusive.items():
            for key in keys:
                if key in owner and owner[key] != group:
                    raise ValueError(f"feature {key!r} is in both {owner[key]} and {group}; "
                                     "a feature belongs to one group (bucket_features may "
                                     "repeat a dense float feature)")
                owner[key] = group

    def _check_per_feature_settings(self) -> None:
        declared = self.raw_feature_keys
        for setting, keys in (("imputation", self.imputation), ("scaling", self.scaling)):
            for key in keys:
                if key not in declared:
                    raise ValueError(f"{setting} names unknown feature {key!r}"
                                     f"{did_you_mean(key, declared)}; declared features: "
                                     f"{', '.join(declared)}")
        checked = (*declared, self.label_key)
        for key in self.data_validation.features:
            if key not in checked:
                raise ValueError(f"data_validation.features names unknown feature {key!r}"
                                 f"{did_you_mean(key, checked)}; checked features: "
                                 f"{', '.join(checked)}")
        for key in self.scaling:
            if key not in self.dense_float_features:
                raise ValueError(f"scaling applies to dense_float_features only, not {key!r}")
        for key, impute in self.imputation.items():
            if key in self.sequence_features:
                raise ValueError(f"imputation does not apply to sequence feature {key!r}")
            if impute.strategy in ("mean", "median") and key not in self.numeric_keys:
                raise ValueError(f"imputation {impute.strategy!r} needs a numeric feature; "
                                 f"{key!r} is not one (use most_frequent or constant)")
        self._check_slices()

    def _check_slices(self) -> None:
        # Whether a float column has few enough values to slice by is decided on the data
        # (pipelines.config.slices, where the source is read), not by its kind here.
        fields = [("eval_slices", self.eval_slices)]
        if self.fairness is not None:
            fields.append(("fairness.slice_by", self.fairness.slice_by))
        for setting, keys in fields:
            for key in keys:
                if not IDENTIFIER.match(key):
                    raise ValueError(f"{setting} column {key!r} is not a valid column name")
                if key == self.label_key:
                    raise ValueError(f"{setting} names the label {key!r}; slice by a column "
                                     "that describes the examples, not the answer")

    def _check_task(self) -> None:
        if (self.task == "multiclass_classification") != (self.num_classes is not None):
            raise ValueError("num_classes is required for multiclass_classification "
                             "and only allowed there")
        if self.num_classes is not None and self.num_classes < 3:
            raise ValueError(f"num_classes {self.num_classes} must be at least 3 "
                             "(use binary_classification for 2)")
        for threshold in self.eval_metric_spec.metrics:
            if not threshold.supports(self.task):
                raise ValueError(f"metric {threshold.name!r} does not apply to task "
                                 f"{self.task!r}")
            if threshold.bounded and (note := threshold.note(self.task)):
                raise ValueError(f"metric {threshold.name!r} cannot take a bound for task "
                                 f"{self.task!r}: {note}; keep it unbounded to report it, "
                                 "and bound mse, mae or rmse")
        allowed = fairness_metrics_for(self.task)
        for fair in self.fairness.metrics if self.fairness else ():
            if fair.name not in allowed:
                raise ValueError(f"fairness metric {fair.name!r} does not apply to task "
                                 f"{self.task!r}; allowed: {', '.join(allowed)}")

    # Declared last: runs after the other rules, on a config they accepted.
    @model_validator(mode="after")
    def _check_tuning(self) -> ModelConfig:
        if self.tuning is not None:
            check_search_space(self)  # every candidate value through this same validation
        return self
