"""Who may reach the runner, and where the Dataflow workers run: optional stack settings.

``fullcycle:dataflow`` places the workers on a subnetwork (projects without a
default VPC network) and without external IPs (an organization policy that
forbids them; the subnetwork then needs Private Google Access to reach Google's
APIs). ``fullcycle:invokers`` lists the identities, besides the stack's Cloud
Scheduler account, that may call the runner (an Airflow deployment's account).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

COMPUTE_URL = "https://www.googleapis.com/compute/v1/"
SUBNETWORK = re.compile(r"^(?:https://www\.googleapis\.com/compute/v1/)?"
                        r"(?:projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/)?"
                        r"regions/(?P<region>[a-z0-9-]+)/"
                        r"subnetworks/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
# Who may call the runner besides Cloud Scheduler (e.g. an Airflow deployment's account).
INVOKER = re.compile(r"^(?:serviceAccount|user|group):[^@\s:]+@[^@\s]+\.[A-Za-z]{2,}$")


class DataflowSettings(BaseModel):
    """Where the stack's Dataflow workers run: for projects without a default VPC network,
    or with an organization policy that forbids external IPs (then the subnetwork needs
    Private Google Access)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subnetwork: str | None = Field(
        None, description="regions/<region>/subnetworks/<name>, optionally with "
                          "projects/<host project>/ (Shared VPC) or the full compute URL")
    use_public_ips: bool = True

    @field_validator("subnetwork")
    @classmethod
    def _subnetwork(cls, subnetwork: str | None) -> str | None:
        if subnetwork is not None and not SUBNETWORK.match(subnetwork):
            raise ValueError(f"subnetwork {subnetwork!r} is not regions/<region>/subnetworks/"
                             "<name> (optionally projects/<project>/regions/..., or the full "
                             "https://www.googleapis.com/compute/v1/... URL)")
        return subnetwork

    @property
    def dataflow_subnetwork(self) -> str | None:
        """The subnetwork as Dataflow takes it: ``regions/...``, or the complete URL for one
        naming its project (Dataflow accepts only those two forms; a Shared VPC subnetwork
        must be the complete URL), so ``projects/<host>/...`` gets the URL prefix."""
        if self.subnetwork and self.subnetwork.startswith("projects/"):
            return COMPUTE_URL + self.subnetwork
        return self.subnetwork

    @property
    def beam_args(self) -> list[str]:
        """Beam's options for these settings (none when left at the defaults)."""
        return ([f"--subnetwork={self.dataflow_subnetwork}"] if self.subnetwork else []) + (
            [] if self.use_public_ips else ["--no_use_public_ips"])
