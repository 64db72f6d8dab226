"""Canary rollouts on local endpoints: where one is served, its state, the deploy after push.

The local twin of the cloud flow: the pipeline's push deploys the new version
next to the stable one at the first canary weight (what the Vertex Pusher does,
with the same :func:`~pipelines.canary.policy.first_traffic_split`), and a
controller (``fullcycle rollout`` or the runner's ``POST
/rollouts/{model}:tick``) moves traffic step by step from the request log.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.canary.controller import CanaryController, Rollout
from pipelines.canary.policy import (
    NEW_MODEL,
    CanaryPolicy,
    RolloutUnderWayError,
    first_traffic_split,
)
from pipelines.config.errors import FullcycleError
from pipelines.serving.endpoint import EndpointState
from pipelines.settings import Workspace
from pipelines.stack.config import CanarySettings, StackConfig
from pipelines.stack.names import local_endpoint_path

SERVER_FILE = "server.json"


class FileRolloutStore:
    """A rollout's state as a JSON file, locked with ``flock`` (one machine)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextlib.contextmanager
    def exclusive(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self) -> dict | None:
        return json.loads(self.path.read_text()) if self.path.exists() else None

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.path)


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
    return HttpEndpoint(url + local_endpoint_path(model))


def canary_settings(model: str, stack: str) -> CanarySettings:
    """The model's ``canary:`` block in ``Pulumi.<stack>.yaml``; defaults if it is not there."""
    entry = StackConfig.load(stack).entry(model)
    return entry.canary if entry else CanarySettings()


def controller_for(workspace: Workspace, model: str, policy: CanaryPolicy,
                   endpoint=None) -> CanaryController:
    """The canary controller of ``model``'s local endpoint (the served one by default)."""
    return CanaryController(endpoint or endpoint_client(workspace, model), policy,
                            FileRolloutStore(workspace.rollout_state(model)))


def watch(controller: CanaryController, on_check: Callable[[dict, Rollout], None],
          sleep: Callable[[float], None] = time.sleep) -> Rollout:
    """Ticks a progressing rollout every interval until it is promoted or aborted.

    ``on_check(check, rollout)`` is called with each window's analysis as it is recorded.
    """
    state = controller.rollout
    interval = controller.policy.interval_seconds
    seen = len(state.history)
    while state.status == "progressing":
        sleep(max(0.05, state.last_tick + interval - time.time() + 0.05))
        state = controller.tick()
        for check in state.history[seen:]:
            on_check(check, state)
        seen = len(state.history)
    return state


def deploy_pushed(workspace: Workspace, model: str, pushed: str, first_weight: int) -> str:
    """Deploys a just-pushed version to the local endpoint, as the Vertex Pusher does.

    The first version takes 100 %; later ones start at ``first_weight`` next to the
    stable model for the canary to take over. Goes through the running server if
    there is one, else edits the endpoint's saved state. Returns what happened.
    """
    root = workspace.endpoint_dir(model)
    client = endpoint_client(workspace, model) if served_url(root) is not None else None
    state = EndpointState.load(root / "endpoint.json") if client is None else None
    try:
        deployed = (dict(state.deployed) if client is None else
                    {m["id"]: m["model"] for m in client.describe()["deployedModels"]})
        if pushed in deployed.values():
            return f"{pushed} is already deployed"
        try:
            split = first_traffic_split(list(deployed), first_weight)
        except RolloutUnderWayError:
            return (f"not deployed: a rollout is under way on the endpoint of {model!r} "
                    f"({len(deployed)} models); finish it with `fullcycle rollout {model}`")
        if client is None:
            deployed_id = state.add(pushed, split)
            state.save(root / "endpoint.json")
        else:
            deployed_id = client.deploy(pushed, split)
    finally:
        if client is not None:
            client.close()
    share = split[NEW_MODEL]
    return (f"deployed as {deployed_id} with {share} % of traffic"
            + ("" if share == 100 else f"; `fullcycle rollout {model}` runs the canary"))


def open_local_endpoint(workspace: Workspace, model: str, log_retention_days: float = 30):
    """``model``'s local endpoint, serving its latest pushed version if nothing is deployed."""
    from pipelines.serving.endpoint import LocalEndpoint
    from pipelines.serving.model_store import served_version

    endpoint = LocalEndpoint(workspace.endpoint_dir(model), log_retention_days=log_retention_days)
    if not endpoint.state.deployed:
        version = served_version(workspace.serving_model_dir(model), model)
        endpoint.deploy(str(version), {NEW_MODEL: 100})
    return endpoint
