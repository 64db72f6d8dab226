"""Model configs: the typed API a data scientist writes in ``config.py``."""

from pipelines.config.batch_prediction import BatchPrediction
from pipelines.config.data_validation import Check, DataValidation, FeatureChecks
from pipelines.config.errors import ConfigError, FullcycleError
from pipelines.config.fairness import FAIRNESS_METRICS, Fairness, FairnessMetric, fairness_metric
from pipelines.config.metrics import (
                                      METRIC_NAMES,
                                      MetricSpec,
                                      MetricThreshold,
                                      accuracy_metric,
                                      auc_metric,
                                      create_metric_spec,
                                      mae_metric,
                                      metric,
                                      mse_metric,
                                      rmse_metric,
)
from pipelines.config.model_config import (
                                      DataSource,
                                      Impute,
                                      InfraValidation,
                                      ModelCard,
                                      ModelConfig,
                                      SequenceSpec,
                                      TrainingArgs,
                                      VocabSpec,
)
from pipelines.config.registry import list_models, load_config
from pipelines.config.tuning import Choice, LogUniform, Tuning, Uniform

__all__ = [
    "FAIRNESS_METRICS", "METRIC_NAMES", "BatchPrediction", "Check", "ConfigError", "DataSource",
    "DataValidation", "Choice", "Fairness", "FairnessMetric", "FeatureChecks", "FullcycleError",
    "Impute", "InfraValidation", "LogUniform", "MetricSpec", "MetricThreshold", "ModelCard",
    "ModelConfig", "SequenceSpec", "TrainingArgs", "Tuning", "Uniform", "VocabSpec",
    "accuracy_metric", "auc_metric", "create_metric_spec", "fairness_metric", "list_models",
    "load_config", "mae_metric", "metric", "mse_metric", "rmse_metric",
]
