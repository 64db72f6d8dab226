"""``fullcycle`` commands for serving: the local endpoint and the canary rollout."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli.common import app, cli_errors, current_workspace, stack_option
from pipelines.config.errors import FullcycleError
from pipelines.serving import MAX_REQUEST_BYTES


@app.command("serve-endpoint")
@cli_errors
def serve_endpoint(model: str, port: int = typer.Option(8081),
                   host: str = typer.Option("127.0.0.1"),
                   tf_threads: int = typer.Option(
                       1, help="TensorFlow threads per prediction (0: TensorFlow's default); "
                               "one is fastest for small models."),
                   log_retention_days: float = typer.Option(
                       30, min=0.001, help="Days the request log keeps requests (the canary "
                                           "reads minutes of them)."),
                   monitor_every: str | None = typer.Option(
                       None, "--monitor-every", help="Check skew and drift of what was served "
                       "every DURATION (e.g. 1h), over that window, as Vertex AI Model "
                       "Monitoring does (thresholds from the stack's monitoring block)."),
                   max_request_bytes: int = typer.Option(
                       MAX_REQUEST_BYTES, min=1, help="Answer 413 to a :predict body over this "
                       "many bytes (Vertex AI refuses online prediction requests over 1.5 MB)."),
                   stack: str = stack_option("Monitoring thresholds from Pulumi.<stack>.yaml.")
                   ) -> None:
    """Serve MODEL's local endpoint (Vertex AI endpoint API); deploys the served version first."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    import tensorflow as tf
    import uvicorn

    if tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(tf_threads)

    from pipelines.config.registry import model_dir
    from pipelines.serving.endpoint_app import create_endpoint_app
    from pipelines.serving.rollout import open_local_endpoint, register_server, unregister_server
    from pipelines.stack.names import local_endpoint_path

    model_dir(model)
    workspace = current_workspace()
    root = workspace.endpoint_dir(model)
    endpoint = open_local_endpoint(workspace, model, log_retention_days)
    url = f"http://{host}:{port}"
    typer.echo(f"endpoint {model}: {url}{local_endpoint_path(model)}")
    for deployed in endpoint.describe()["deployedModels"]:
        share = endpoint.state.traffic_split.get(deployed["id"], 0)
        typer.echo(f"  {deployed['id']}  {share:3d} %  {deployed['model']}")
    from pipelines.serving.monitoring import endpoint_monitor, parse_window

    every = parse_window(monitor_every) if monitor_every else None
    monitor = endpoint_monitor(workspace, model, stack, endpoint)
    if every:
        typer.echo(f"  monitoring skew and drift every {monitor_every}")
    register_server(root, url)
    try:
        uvicorn.run(create_endpoint_app(endpoint, monitor, every, max_request_bytes),
                    host=host, port=port, log_level="warning")
    finally:
        unregister_server(root)


def _cloud_tick(model: str, stack: str, candidate: Path | None,
                min_samples: int | None) -> None:
    from pipelines.cli.render import rollout_line, window_line
    from pipelines.cloud.rollout import cloud_controller

    if candidate is not None or min_samples is not None:
        raise FullcycleError("--candidate and --min-samples are for the local endpoint; on "
                             "Vertex AI the Pusher deploys the candidate and the stack's canary "
                             "block sets the policy")
    state = cloud_controller(model, stack).tick()
    typer.echo(f"{model} on Vertex AI (stack {stack}): {rollout_line(state)}")
    if state is not None and state.history:
        typer.echo(f"  last window: {window_line(state.history[-1])}")
    if state is not None and state.status in ("aborted", "needs_attention"):
        raise typer.Exit(1)


@app.command()
@cli_errors
def rollout(model: str,
            interval: float = typer.Option(10.0, min=0.1, help="Seconds between analyses (the "
                                           "stack's interval_minutes applies in the cloud)."),
            rate: float = typer.Option(40.0, min=0.0, help="Requests per second of live traffic "
                                       "from eval rows, labels fed back; 0 sends none."),
            candidate: Path | None = typer.Option(None, help="A SavedModel to roll out (default: "
                                                  "the one the last push deployed)."),
            min_samples: int | None = typer.Option(
                None, min=1, help="Candidate requests needed per analysis (default: the stack's)."),
            stack: str = stack_option("Canary settings from Pulumi.<stack>.yaml."),
            once: bool = typer.Option(False, "--once", help="One tick, as the runner route does."),
            cloud: bool = typer.Option(False, "--cloud", help="One tick of the rollout on the "
                                       "model's Vertex AI endpoint in --stack, as its Scheduler "
                                       "job does (Application Default Credentials)."),
            ) -> None:
    """Run MODEL's canary on its local endpoint: analyse, step traffic, promote or roll back."""
    from contextlib import nullcontext

    from pipelines.canary.policy import CanaryPolicy
    from pipelines.cli.render import rollout_line, window_line
    from pipelines.config.registry import load_config
    from pipelines.serving.rollout import canary_settings, controller_for, endpoint_client, watch

    config = load_config(model)
    if cloud:
        _cloud_tick(model, stack, candidate, min_samples)
        return
    workspace = current_workspace()
    policy = CanaryPolicy.of(canary_settings(model, stack), interval, min_samples)
    endpoint = endpoint_client(workspace, model)
    controller = controller_for(workspace, model, policy, endpoint)
    if candidate is not None:
        controller.start(str(candidate.resolve()))
    state = controller.tick()
    if state is None or state.status != "progressing":
        typer.echo(f"{model}: nothing to roll out ({rollout_line(state)}); a push deploys the "
                   f"next version at {policy.steps[0]} % (`fullcycle run {model} --force`)")
        return
    typer.echo(f"{model}: canary {state.candidate_id} next to {state.stable_id}, steps "
               f"{list(policy.steps)} every {policy.interval_seconds:g} s, "
               f"min {policy.settings.min_samples} samples")
    if once:
        typer.echo(rollout_line(state))
        return
    from pipelines.serving.traffic import Traffic, eval_examples

    def show(check: dict, now) -> None:
        weight = policy.steps[min(now.step, len(policy.steps) - 1)]
        typer.echo(f"  {check['weight']:3d} %: {window_line(check)} -> {check['result']}"
                   + (f"; now {weight} %" if now.status == "progressing" else ""))

    traffic = (Traffic(endpoint.url, eval_examples(config, workspace), rate) if rate > 0
               else nullcontext())
    with traffic:
        state = watch(controller, show)
    typer.echo(rollout_line(state))
    if state.status == "aborted":
        raise typer.Exit(1)
