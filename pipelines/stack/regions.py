"""Vertex AI regions, and the Artifact Registry multi-region of Vertex's prediction containers.

Vertex AI's prebuilt prediction containers are published in three multi-regional
repositories only: ``us-docker.pkg.dev``, ``europe-docker.pkg.dev`` and
``asia-docker.pkg.dev`` (Google's "Prebuilt containers for prediction" page); a
region's own prefix (``northamerica-docker.pkg.dev``, ``me-docker.pkg.dev``, ...)
names no such repository. Each region serves from the nearest one: the Americas
from ``us``, Europe, the Middle East and Africa from ``europe``, Asia Pacific from
``asia``. The regions are those of Google's "Vertex AI locations" page
(https://cloud.google.com/vertex-ai/docs/general/locations, checked December 2026).
"""

from __future__ import annotations

_BY_REGISTRY = {
    "us": ("us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
           "us-west2", "us-west3", "us-west4", "northamerica-northeast1",
           "northamerica-northeast2", "southamerica-east1", "southamerica-west1"),
    "europe": ("europe-central2", "europe-north1", "europe-southwest1", "europe-west1",
               "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
               "europe-west9", "europe-west12", "me-central1", "me-central2", "me-west1",
               "africa-south1"),
    "asia": ("asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2",
             "asia-northeast3", "asia-south1", "asia-southeast1", "asia-southeast2",
             "australia-southeast1", "australia-southeast2"),
}

# Every Vertex AI region -> the multi-region of its prediction containers.
VERTEX_REGIONS: dict[str, str] = {region: registry for registry, regions in
                                  _BY_REGISTRY.items() for region in regions}
PREDICTION_REGISTRIES = tuple(_BY_REGISTRY)


def prediction_registry(region: str) -> str:
    """``us``, ``europe`` or ``asia``: where ``region``'s prediction containers are pulled."""
    from pipelines.config.errors import ConfigError, unknown

    try:
        return VERTEX_REGIONS[region]
    except KeyError:
        raise ConfigError(unknown("Vertex AI region", region, sorted(VERTEX_REGIONS))) from None
