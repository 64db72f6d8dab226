"""Canary rollouts on local endpoints: where one is served, the policy, the deploy after push.

The local twin of the cloud flow: the pipeline's push deploys the new version
next to the stable one at the first canary weight (what the Vertex Pusher does),
and a controller (``fullcycle rollout`` or the runner's ``POST
/rollouts/{model}:tick``) moves traffic step by step from the request log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.config.errors import FullcycleError
from pipelines.serving.canary import CanaryController, CanaryPolicy
from pipelines.serving.endpoint import EndpointState
from pipelines.settings import Workspace

SERVER_FILE = "server.json"


def endpoint_path(model: str) -> str:
    """The endpoint's resource path, as on Vertex AI (project and location are "local")."""
    return f"/v1/projects/local/locations/local/endpoints/{model}"


def register_server(root: Path, url: str) -> None:
    """Records where the endpoint is served while ``serve-endpoint`` runs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / SERVER_FILE).write_text(json.dumps({"url": url, "pid": os.getpid()}))


def unregister_server(root: Path) -> None:
    (root / SERVER_FILE).unlink(missing_ok=True)


def served_url(root: Path) -> str | None:
    """The URL of the running endpoint server, None when none runs."""
    try:
        server = json.loads((root / SERVER_FILE).read_text())
        os.kill(server["pid"], 0)
    except (FileNotFoundError, json.JSONDecodeError, KeyError, ProcessLookupError):
        return None
    except PermissionError:  # alive, someone else's
        pass
    return server["url"]


def endpoint_client(workspace: Workspace, model: str):
    """The running local endpoint of ``model``, over HTTP."""
    from pipelines.serving.client import HttpEndpoint

    url = served_url(workspace.endpoint_dir(model))
    if url is None:
        raise FullcycleError(f"the endpoint of {model!r} is not being served; start it with "
                             f"`fullcycle serve-endpoint {model}` (in another terminal)")
    return HttpEndpoint(url + endpoint_path(model))


def canary_settings(model: str, stack: str):
    """The model's ``canary:`` block in ``Pulumi.<stack>.yaml``; defaults if it is not there."""
    from infra.config import CanarySettings, StackConfig

    entry = StackConfig.from_stack_file(stack).entry(model)
    return entry.canary if entry else CanarySettings()


def policy_for(model: str, stack: str, interval_seconds: float | None = None) -> CanaryPolicy:
    return CanaryPolicy.from_settings(canary_settings(model, stack), interval_seconds)


def controller_for(workspace: Workspace, model: str, policy: CanaryPolicy,
                   endpoint=None) -> CanaryController:
    return CanaryController(endpoint or endpoint_client(workspace, model), policy,
                            workspace.rollout_state(model))


def _first_split(deployed: dict[str, str], pushed: str, first_weight: int,
                 model: str) -> dict[str, int] | str:
    """The traffic split that deploys ``pushed`` next to ``deployed`` (id -> path), or why not."""
    if pushed in deployed.values():
        return f"{pushed} is already deployed"
    if len(deployed) > 1:
        return (f"not deployed: a rollout is under way on the endpoint of {model!r} "
                f"({len(deployed)} models); finish it with `fullcycle rollout {model}`")
    if not deployed:
        return {"0": 100}
    (stable,) = deployed
    return {"0": first_weight, stable: 100 - first_weight}


def deploy_pushed(workspace: Workspace, model: str, pushed: str, first_weight: int) -> str:
    """Deploys a just-pushed version to the local endpoint, as the Vertex Pusher does.

    The first version takes 100 %; later ones start at ``first_weight`` next to the
    stable model for the canary to take over. Goes through the running server if
    there is one, else edits the endpoint's saved state. Returns what happened.
    """
    root = workspace.endpoint_dir(model)
    if served_url(root) is None:
        state = EndpointState.load(root / "endpoint.json")
        split = _first_split(state.deployed, pushed, first_weight, model)
        if isinstance(split, str):
            return split
        deployed_id = state.add(pushed, split)
        state.save(root / "endpoint.json")
    else:
        client = endpoint_client(workspace, model)
        try:
            deployed = {m["id"]: m["model"] for m in client.describe()["deployedModels"]}
            split = _first_split(deployed, pushed, first_weight, model)
            if isinstance(split, str):
                return split
            deployed_id = client.deploy(pushed, split)
        finally:
            client.close()
    share = split["0"]
    return (f"deployed as {deployed_id} with {share} % of traffic"
            + ("" if share == 100 else f"; `fullcycle rollout {model}` runs the canary"))
