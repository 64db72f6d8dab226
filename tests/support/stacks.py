"""Stack configs for tests: a production-like base with the models a test names."""

from pipelines.stack.config import StackConfig

BASE = {"gcp:project": "acme-ml-prod", "gcp:region": "europe-west4",
        "fullcycle:runnerImage": "europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/runner:1",
        "fullcycle:labels": {"team": "ds"}}


def stack(models, **extra) -> StackConfig:
    """The ``prod`` stack of ``BASE`` with ``fullcycle:models`` set to ``models``."""
    raw = {**BASE, "fullcycle:models": models, **extra}
    return StackConfig.from_mapping({k: v for k, v in raw.items() if v is not None}, "prod")
