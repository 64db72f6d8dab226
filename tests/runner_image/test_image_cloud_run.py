"""Cloud Run's command in the image: the service exactly as the Pulumi plan declares it.

The container's command, args and env come from the planned ``cloudrunv2.Service`` (the
settings ``pulumi up`` hands the runner in FULLCYCLE_SETTINGS); Cloud Run adds PORT and
K_SERVICE. The runner must answer /healthz, refuse an unknown model with a 404 naming the
known ones, and run as the image's non-root user.
"""

import json
import time

import httpx

from tests.runner_image.engine import NON_ROOT_UID, container, free_port, logs, podman


def planned_container() -> dict:
    from infra.plan import plan
    from pipelines.stack.config import StackConfig

    config = StackConfig.from_stack_file("dev")
    (service,) = plan(config).of_type("gcp:cloudrunv2/service:Service")
    return service.inputs["template"]["containers"][0], config


def test_serve_runner_answers_as_cloud_run_starts_it(image):
    planned, config = planned_container()
    port = free_port()
    envs = {e["name"]: e["value"] for e in planned["envs"]}
    envs.update(PORT=str(port), K_SERVICE="fullcycle-runner", K_REVISION="fullcycle-runner-1")
    options = ["--network", "host", "--entrypoint", json.dumps(planned["commands"])]
    for name, value in envs.items():
        options += ["-e", f"{name}={value}"]
    with container(image, *planned["args"], options=tuple(options)) as name:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                state = podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
                assert state == "true" and time.monotonic() < deadline, logs(name)[-4000:]
                time.sleep(2)
        assert health.status_code == 200, health.text
        unknown = httpx.post(f"{base}/runs", json={"model": "no_such_model"}, timeout=30)
        assert unknown.status_code == 404, unknown.text
        known = [entry.name for entry in config.models]
        assert all(model in unknown.text for model in known), (known, unknown.text)
        top = podman("top", name, "huser", "args").stdout  # host view: numeric uid
        processes = [line.split(None, 1) for line in top.splitlines()[1:] if line.strip()]
        assert any("serve-runner" in args for _, args in processes), top
        assert {uid for uid, _ in processes} == {str(NON_ROOT_UID)}, top
