"""One push at a time per model: the VertexPusher's "check the endpoint, deploy" under the lease.

Two runs of a model can finish together (a scheduled tick and a manual run);
each pusher reads "at most one deployed model", and both deploying would leave
three deployed models and the second split would drop the first candidate to
0 %. So the push takes the model's lease (the one the canary's ticks take,
``gs://<bucket>/rollouts/<model>.lease``) around the check and the deploy. A
canary tick holds the lease for seconds every interval, rollout or not, so a push
that finds a tick holding it waits for it (at most until the tick's lease
expires). A push that finds another push holding it, or a rollout under way (two
deployed models), deploys nothing and uploads nothing: the run records
``not deployed: rollout in progress`` and succeeds. The version does not wait in a
queue; the next blessed run after the rollout ends pushes its own, newer model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pipelines.canary.controller import RolloutBusyError
from pipelines.canary.policy import RolloutUnderWayError
from pipelines.cloud.registry import Deployment, deploy_version
from pipelines.cloud.rollout_store import (
    PUSH_LEASE_SECONDS,
    TICK_HOLDER,
    TICK_LEASE_SECONDS,
    GcsRolloutStore,
)
from pipelines.cloud.target import CloudTarget

NOT_DEPLOYED = "not deployed: rollout in progress"
TICK_WAIT_SECONDS = TICK_LEASE_SECONDS + 60  # by then a tick's lease is released or expired
WAIT_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class Push:
    """What a push did: ``deployment`` when it deployed, else why not (``note``)."""

    deployment: Deployment | None
    note: str


def push_version(target: CloudTarget, artifact_uri: str, version: str, credentials=None,
                 model_card: str | None = None,
                 tick_wait_seconds: float = TICK_WAIT_SECONDS) -> Push:
    """Uploads and deploys ``version`` as :func:`deploy_version` does, holding the model's
    lease (waiting up to ``tick_wait_seconds`` for a canary tick that holds it); a rollout
    or push under way leaves the endpoint (and the registry) as it is."""
    from google.cloud import aiplatform

    # The credentials the Vertex AI client uses (the pipeline's service account on Vertex).
    credentials = credentials or aiplatform.initializer.global_config.credentials
    store = GcsRolloutStore(target.bucket, target.model, target.project, credentials)
    give_up = time.monotonic() + tick_wait_seconds
    while True:
        try:
            with store.exclusive(holder=f"the push of version {version}",
                                 seconds=PUSH_LEASE_SECONDS):
                deployment = deploy_version(target, artifact_uri, version, credentials,
                                            model_card=model_card)
        except RolloutBusyError as err:
            if err.holder == TICK_HOLDER and time.monotonic() < give_up:
                time.sleep(WAIT_POLL_SECONDS)  # a tick takes seconds: take the lease after it
                continue
            return Push(None, f"{NOT_DEPLOYED}: {err}")
        except RolloutUnderWayError as err:
            return Push(None, f"{NOT_DEPLOYED}: {err}")
        return Push(deployment, deployment.note)
