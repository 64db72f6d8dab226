"""Where one model runs in the cloud: project, region, image, dataset, bucket, endpoint, labels.

Derived from the stack config in one place, and passed whole (as JSON) to the
components that run inside a Vertex AI pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config.errors import ConfigError, unknown
from pipelines.stack.config import StackConfig, labels
from pipelines.stack.names import BASELINE_PREFIX, HYPERPARAMETERS_PREFIX, MODEL_PREFIX
from pipelines.stack.regions import prediction_registry

# The TensorFlow minor of Vertex AI's prediction container. Google publishes no 2.16
# container (the SDK's list and its "prebuilt containers for inference" page stop at 2.15),
# while models are exported with the lock's 2.16: so the newest published minor, one
# behind. Checked by hand (2026-12-06): a basic_template export (vocabulary, buckets,
# z-scores) loaded under TF 2.15.1 answers serving_default with the 2.16 predictions to
# the last digit. tests/cloud/test_serving_image.py keeps the pin published and at most
# one minor behind the exporting TensorFlow.
SERVING_TF_VERSION = "2.15"
# Vertex AI's prebuilt TensorFlow prediction container on CPU, from the region's
# multi-regional registry (us, europe or asia: see pipelines/stack/regions.py).
SERVING_IMAGE = "{registry}-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.{tf}:latest"


@dataclass(frozen=True)
class CloudTarget:
    """Where one model runs in the cloud, derived from the stack config."""

    model: str
    project: str
    region: str
    image: str
    dataset: str
    bucket: str
    service_account: str
    endpoint: str | None
    machine_type: str
    min_replicas: int
    max_replicas: int
    first_canary_weight: int
    labels: dict[str, str]  # of every job, query and model version a run creates
    network_args: tuple[str, ...] = ()  # Dataflow's subnetwork / no public IPs, if set

    @classmethod
    def from_stack(cls, model: str, stack: str = "dev") -> CloudTarget:
        return cls.of(StackConfig.load(stack), model)

    @classmethod
    def of(cls, config: StackConfig, model: str) -> CloudTarget:
        entry = config.entry(model)
        if entry is None:
            raise ConfigError(unknown(f"model in stack {config.stack!r}", model,
                                      [m.name for m in config.models])
                              + f"; add it to fullcycle:models in Pulumi.{config.stack}.yaml")
        names = config.names(model)
        return cls(model=model, project=config.project, region=config.region,
                   image=config.image, dataset=names.dataset_id, bucket=names.bucket,
                   service_account=f"{names.service_account_id}@{config.project}"
                                   ".iam.gserviceaccount.com",
                   endpoint=names.endpoint_display_name if entry.endpoint.enabled else None,
                   machine_type=entry.endpoint.machine_type,
                   min_replicas=entry.endpoint.min_replicas,
                   max_replicas=entry.endpoint.max_replicas,
                   first_canary_weight=entry.canary.steps[0],
                   labels=labels(config, model),
                   network_args=tuple(config.dataflow.beam_args))

    @property
    def pipeline_root(self) -> str:
        return f"gs://{self.bucket}/pipeline_root"

    @property
    def baseline_root(self) -> str:
        """Where blessed runs record the model's data baseline."""
        return f"gs://{self.bucket}/{BASELINE_PREFIX.rstrip('/')}"

    @property
    def models_root(self) -> str:
        """Where pushed models are kept (no lifecycle rule): registry versions point here."""
        return f"gs://{self.bucket}/{MODEL_PREFIX.rstrip('/')}"

    def model_uri(self, version: str) -> str:
        """The SavedModel folder of pushed ``version``, the registry version's artifact_uri."""
        return f"{self.models_root}/{version}"

    @property
    def bigquery_temp_dataset(self) -> str:
        """Where Beam's BigQuery read writes its query results (``project.dataset``): the
        model's own dataset, so no ``beam_temp_dataset_*`` is created in the project."""
        return f"{self.project}.{self.dataset}"

    @property
    def hyperparameters_root(self) -> str:
        """Where tuning records the values the model's runs train with."""
        return f"gs://{self.bucket}/{HYPERPARAMETERS_PREFIX.rstrip('/')}"

    @property
    def serving_image(self) -> str:
        return SERVING_IMAGE.format(registry=prediction_registry(self.region),
                                    tf=SERVING_TF_VERSION.replace(".", "-"))

    @property
    def beam_pipeline_args(self) -> list[str]:
        """Dataflow, as the model's service account, in the runner image, with its labels."""
        return ["--runner=DataflowRunner", f"--project={self.project}",
                f"--region={self.region}", f"--temp_location=gs://{self.bucket}/tmp",
                f"--service_account_email={self.service_account}",
                f"--sdk_container_image={self.image}", "--experiments=use_runner_v2",
                *self.network_args,
                *(f"--labels={key}={value}" for key, value in self.labels.items())]
