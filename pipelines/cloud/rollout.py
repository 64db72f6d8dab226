"""The canary on Vertex AI, as the cloud runner's ``POST /rollouts/{model}:tick`` runs it.

The shared :class:`~pipelines.canary.controller.CanaryController` over the
model's :class:`~pipelines.cloud.endpoint.VertexEndpoint`, with its state in a
:class:`~pipelines.cloud.rollout_store.GcsRolloutStore`, and the policy of the
model's ``canary:`` block in the stack.
"""

from __future__ import annotations

from pipelines.canary.controller import CanaryController
from pipelines.canary.policy import CanaryPolicy
from pipelines.cloud.endpoint import VertexEndpoint
from pipelines.cloud.rollout_store import GcsRolloutStore
from pipelines.cloud.target import CloudTarget
from pipelines.config.errors import FullcycleError
from pipelines.stack.config import StackConfig


def cloud_controller(model: str, stack: str, credentials=None) -> CanaryController:
    """The canary controller of ``model``'s Vertex AI endpoint, policy from the stack."""
    config = StackConfig.load(stack)
    target = CloudTarget.of(config, model)
    if target.endpoint is None:
        raise FullcycleError(f"model {model!r} has no endpoint in stack {stack!r} "
                             "(endpoint.enabled is false): there is nothing to roll out")
    return CanaryController(VertexEndpoint(target, credentials),
                            CanaryPolicy.of(config.entry(model).canary),
                            GcsRolloutStore(target.bucket, model, target.project, credentials))
