"""``fullcycle`` commands for the cloud path: compile, the runner, its schedules, the plan."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from pipelines.cli.common import app, cli_errors, current_workspace, infra_app, stack_option
from pipelines.config.errors import FullcycleError


@app.command("compile")
@cli_errors
def compile_(model: str, stack: str = stack_option(),
             output: Path = typer.Option(Path("pipeline.json"), "-o", "--output")) -> None:
    """Compile the model's pipeline for Vertex AI Pipelines (offline, no credentials)."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.cloud.compile import compile_pipeline
    from pipelines.cloud.target import CloudTarget
    from pipelines.config.registry import load_config

    spec = compile_pipeline(load_config(model), CloudTarget.from_stack(model, stack), output)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    typer.echo(f"wrote {output}: {len(tasks)} tasks, pipeline root "
               f"{spec['runtimeConfig']['gcsOutputDirectory']}")


@app.command("serve-runner")
@cli_errors
def serve_runner(
        host: str | None = typer.Option(None, help="Default 127.0.0.1; 0.0.0.0 on Cloud Run."),
        port: int = typer.Option(8080, envvar="PORT", help="Env PORT on Cloud Run."),
        backend: str = typer.Option("local", envvar="FULLCYCLE_BACKEND",
                                    help="local (LocalDagRunner) or vertex."),
        stack: str = stack_option(),
        train_steps: int | None = typer.Option(None, help="Local backend: train every run this "
                                               "many steps."),
        eval_steps: int | None = typer.Option(None, help="Local backend: evaluate this many "
                                              "steps."),
        rollout_interval: float | None = typer.Option(
            None, help="Local backend: seconds between canary analyses (default: the stack's "
                       "interval_minutes).")) -> None:
    """Serve the runner API (POST /runs, POST /rollouts/MODEL:tick) that Cloud Scheduler calls."""
    import uvicorn

    from pipelines.runner.app import runner_app

    overrides = {k: v for k, v in (("train_steps", train_steps), ("eval_steps", eval_steps))
                 if v is not None}
    app_ = runner_app(backend, stack, current_workspace(), overrides, rollout_interval)
    host = host or ("0.0.0.0" if "K_SERVICE" in os.environ else "127.0.0.1")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
@cli_errors
def trigger(model: str, runner_url: str = typer.Option("http://127.0.0.1:8080"),
            stack: str = stack_option()) -> None:
    """Send the runner one tick for MODEL now, exactly as Cloud Scheduler would."""
    import datetime as dt

    import httpx

    from pipelines.runner.scheduler import scheduler_request, send
    from pipelines.stack.config import RetrySettings, StackConfig

    config = StackConfig.load(stack)
    entry = config.entry(model)
    retry = entry.retry if entry else RetrySettings()
    request = scheduler_request(model, dt.datetime.now(dt.timezone.utc),
                                config.names(model).scheduler_job)
    try:
        response = send(runner_url, request, retry)
    except httpx.TransportError as err:
        raise FullcycleError(f"runner at {runner_url} is not reachable ({err}); start it with "
                             "`fullcycle serve-runner`") from None
    typer.echo(response.text)
    if response.status_code != 202:
        raise typer.Exit(1)


@app.command()
@cli_errors
def schedule(stack: str = stack_option(),
             runner_url: str = typer.Option("http://127.0.0.1:8080")) -> None:
    """Send the runner each model's cron ticks from the stack config: training (POST /runs)
    and, with a scoring schedule, batch scoring (POST /scores). Ctrl-C stops."""
    import datetime as dt
    import threading

    from pipelines.runner.scheduler import next_tick, run_schedule, stack_schedules
    from pipelines.stack.config import StackConfig

    jobs = stack_schedules(StackConfig.load(stack))
    now = dt.datetime.now(dt.timezone.utc)
    for job in jobs:
        typer.echo(f"{job.job} (POST {job.path} {job.model}): '{job.schedule}' {job.time_zone}, "
                   f"next tick {next_tick(job, now).isoformat()}")
    stop = threading.Event()
    try:
        run_schedule(jobs, runner_url, stop, lambda j, t, code: typer.echo(
            f"{t.isoformat()} {j.job}: HTTP {code}"))
    except KeyboardInterrupt:
        stop.set()


@infra_app.command("plan")
@cli_errors
def infra_plan(stack: str = stack_option(),
               json_out: bool = typer.Option(False, "--json", help="Print the resources as "
                                             "JSON (type, name, URN, model, inputs).")) -> None:
    """Print every resource `pulumi up` would create, grouped by model (no credentials)."""
    from infra.plan import plan
    from infra.render import render_plan
    from pipelines.stack.config import StackConfig

    planned = plan(StackConfig.from_stack_file(stack))
    if json_out:
        typer.echo(json.dumps(planned.as_json(), indent=2, default=str))
        return
    typer.echo(render_plan(planned))
