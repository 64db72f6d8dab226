"""``fullcycle``: from a model folder to a trained, evaluated, pushed model.

Heavy libraries (TensorFlow, TFX, Beam) are imported inside the commands that
need them, so ``--help``, ``list`` and ``validate`` stay fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import typer

import pipelines  # noqa: F401 - pins Keras 2 before anything imports TensorFlow
from pipelines.config.errors import FullcycleError
from pipelines.process_exit import run_skipping_teardown
from pipelines.serving import MAX_REQUEST_BYTES

app = typer.Typer(help=__doc__.split("\n")[0], no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="The local warehouse (DuckDB): seed samples, load your data.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")
infra_app = typer.Typer(help="Infrastructure (Pulumi): plan offline what `pulumi up` creates.",
                        no_args_is_help=True)
app.add_typer(infra_app, name="infra")


def cli_errors(fn):
    """Prints a FullcycleError as one clear message and exits 2; no traceback
    (``--verbose`` adds the trace of an error raised by a model's own code)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FullcycleError as err:
            trace = getattr(err, "trace", None)
            if trace and os.environ.get("FULLCYCLE_VERBOSE"):
                typer.echo(trace, err=True)
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
    return wrapper


def stack_option(help_text: str = "The stack config: Pulumi.<stack>.yaml.") -> typer.Option:
    """``--stack``, from ``FULLCYCLE_STACK`` when not given, else ``dev`` (every command)."""
    return typer.Option("dev", "--stack", envvar="FULLCYCLE_STACK", show_envvar=True,
                        help=help_text)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v",
                                       help="Show library logs and the traces of errors.")):
    if verbose:
        os.environ["FULLCYCLE_VERBOSE"] = "1"


def _workspace():
    from pipelines.settings import Workspace

    return Workspace.from_env()


@app.command("list")
@cli_errors
def list_models() -> None:
    """List the model folders."""
    from pipelines.config.registry import list_models as names
    from pipelines.config.registry import load_config

    for name in names():
        try:
            config = load_config(name)
            typer.echo(f"{name:24} {config.task:28} {config.model_type:10} "
                       f"{len(config.raw_feature_keys)} features")
        except FullcycleError:
            typer.echo(f"{name:24} (invalid config: run `fullcycle validate {name}`)")


@app.command()
@cli_errors
def validate(model: str) -> None:
    """Validate a model's config (and its source columns, when the warehouse exists)."""
    from pipelines.config.registry import load_config

    config = load_config(model)
    from pipelines.config.registry import check_model_code

    check_model_code(model)
    workspace = _workspace()
    checked = "config"
    if workspace.warehouse.exists():
        from pipelines.data.scoring import check_scoring_source
        from pipelines.pipeline.local import check_source

        check_source(config, workspace)
        check_scoring_source(config, workspace.warehouse)
        checked = "config and source columns"
    typer.secho(f"{model}: {checked} OK", fg=typer.colors.GREEN)
    typer.echo(f"  task {config.task}, model {config.model_type}, label {config.label_key!r}")
    for group, keys in config.feature_groups.items():
        if keys:
            typer.echo(f"  {group}: {', '.join(keys)}")
    for metric in config.eval_metric_spec.metrics:
        if note := metric.note(config.task):
            typer.echo(f"  note: metric {metric.name!r} is {note}: reported, never a bound")


@app.command()
@cli_errors
def run(model: str,
        train_steps: int | None = typer.Option(None, help="Override: train this many steps."),
        eval_steps: int | None = typer.Option(None, help="Override: evaluate this many steps."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Show TF/Beam/TFX logs."),
        force: bool = typer.Option(False, "--force", help="Run TFX even if nothing changed "
                                   "(its per-component cache still applies)."),
        json_out: Path | None = typer.Option(None, "--json", help="Also write the summary here."),
        stack: str = stack_option("Canary steps (the first one deploys a new version) "
                                  "from Pulumi.<stack>.yaml.")
        ) -> None:
    """Run the model's full TFX pipeline locally, deploy what it pushed, print a summary."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(verbose or bool(os.environ.get("FULLCYCLE_VERBOSE")))
    from pipelines.cli.render import console, print_summary, progress
    from pipelines.config.registry import load_config, with_overrides
    from pipelines.pipeline.local import run_local

    overrides = {k: v for k, v in (("train_steps", train_steps), ("eval_steps", eval_steps))
                 if v is not None}
    config = load_config(model)
    if overrides:
        config = with_overrides(config, **overrides)
    console.print(f"Running [bold]{model}[/] locally (warehouse {_workspace().warehouse})")
    summary = run_local(config, _workspace(), overrides=overrides, verbose=verbose,
                        use_run_cache=not force, stack=stack, on_event=progress)
    print_summary(summary)
    if summary.report:
        console.print(f"  report: {summary.report}", soft_wrap=True)
    if summary.log and os.environ.get("FULLCYCLE_VERBOSE") and Path(summary.log).exists():
        typer.echo(Path(summary.log).read_text(), err=True)
    if json_out:
        json_out.write_text(json.dumps(summary.as_dict(), indent=2, default=str))
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@cli_errors
def tune(model: str,
         verbose: bool = typer.Option(False, "--verbose", "-v", help="Show TF/Beam/TFX logs."),
         force: bool = typer.Option(False, "--force", help="Tune again even if nothing changed."),
         max_trials: int | None = typer.Option(None, min=1, help="Override: try this many."),
         trial_train_steps: int | None = typer.Option(None, min=1, help="Override: train each "
                                                      "trial this many steps."),
         json_out: Path | None = typer.Option(None, "--json", help="Also write the summary here."),
         cloud: bool = typer.Option(False, "--cloud", help="Compile the tuning pipeline for "
                                    "Vertex AI Pipelines and submit it (Application Default "
                                    "Credentials); it records into the model's bucket."),
         dry_run: bool = typer.Option(False, "--dry-run", help="With --cloud: compile only."),
         output: Path | None = typer.Option(None, "-o", "--output", help="With --cloud: also "
                                            "write the compiled spec here."),
         idempotency_key: str | None = typer.Option(
             None, "--idempotency-key", help="With --cloud: the same key never starts two "
             "tunings (as the runner's POST /tunings with an Idempotency-Key header)."),
         stack: str = stack_option()) -> None:
    """Search the model's training args (its config's tuning=Tuning(...)); every later run
    trains with the best values. Scheduled runs never tune."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(verbose or bool(os.environ.get("FULLCYCLE_VERBOSE")))
    from pipelines.cli.render import console, progress
    from pipelines.config.registry import load_config, with_overrides
    from pipelines.workflows.tune import require_tuning, tune_cloud, tune_local, tuning_overrides

    config = load_config(model)
    require_tuning(config)
    overrides = tuning_overrides(config, max_trials=max_trials,
                                 trial_train_steps=trial_train_steps)
    if overrides:
        config = with_overrides(config, **overrides)
    if cloud:
        if overrides:
            raise FullcycleError("--max-trials and --trial-train-steps are for a local tuning; "
                                 "in the cloud the config's tuning applies")
        answer = tune_cloud(config, stack, output, submit=not dry_run,
                            idempotency_key=idempotency_key)
        tasks = answer["spec"]["pipelineSpec"]["root"]["dag"]["tasks"]
        where = f"wrote {output}: " if output else ""
        typer.echo(f"{where}tuning pipeline of {model}: {len(tasks)} tasks, result recorded in "
                   f"{answer['hyperparameters_root']}")
        if answer["job_id"]:
            done = "already submitted" if answer["duplicate"] else "submitted"
            typer.echo(f"{done} {answer['job_id']}: {answer['link']}")
        return
    if dry_run or output or idempotency_key:
        raise FullcycleError("--dry-run, --output and --idempotency-key are for --cloud (a "
                             "local tuning runs the pipeline)")
    from pipelines.cli.render_tuning import print_tuning

    tuning = config.tuning
    length = (f"{tuning.trial_train_steps} steps" if tuning.trial_train_steps
              else "training as a run does")
    console.print(f"Tuning [bold]{model}[/] locally: the config's values, then "
                  f"{tuning.max_trials} trials, each {length} once per fold of "
                  f"{tuning.folds}-fold cross-validation on train; {tuning.algorithm} search "
                  f"(warehouse {_workspace().warehouse})")
    summary = tune_local(config, _workspace(), use_cache=not force, overrides=overrides,
                         on_event=progress)
    print_tuning(summary, console)
    if json_out:
        json_out.write_text(json.dumps(summary.as_dict(), indent=2, default=str))
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@cli_errors
def predict(model: str,
            instances: Path = typer.Option(
                ..., help="JSON: a list of objects or {'instances': [...]}"),
            endpoint: bool = typer.Option(
                False, "--endpoint", help="Through the running local endpoint (its traffic "
                                          "split, logged) instead of the latest pushed version."),
            ) -> None:
    """Predict with the model's served (latest pushed) version, or through its endpoint."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import model_dir
    from pipelines.serving.model_store import LoadedModel, read_instances, served_version

    model_dir(model)
    rows = read_instances(instances)
    if endpoint:
        from pipelines.serving.rollout import endpoint_client

        client = endpoint_client(_workspace(), model)
        try:
            answer = client.predict(rows)
        finally:
            client.close()
        typer.echo(json.dumps({"model": model, "deployedModelId": answer["deployedModelId"],
                               "predictions": answer["predictions"]}, indent=2))
        return
    version = served_version(_workspace().serving_model_dir(model), model)
    predictions = LoadedModel(version).predict(rows)
    typer.echo(json.dumps({"model": model, "version": version.name,
                           "predictions": predictions}, indent=2))


@app.command()
@cli_errors
def score(model: str,
          version: str | None = typer.Option(None, help="A pushed version (default: the served "
                                             "one, as `fullcycle predict` uses)."),
          where: str | None = typer.Option(None, help="SQL condition on the rows to score, "
                                           "e.g. \"trip_start_day = 3\"."),
          limit: int | None = typer.Option(None, min=1, help="Score at most this many rows."),
          json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON.")
          ) -> None:
    """Score MODEL's rows (batch_prediction, default: its training source) into its
    destination table, after checking them against the model's data baseline."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.cli.render import console, score_progress
    from pipelines.config.registry import load_config
    from pipelines.workflows.score import score as score_rows

    config = load_config(model)
    with score_progress(enabled=console.is_terminal and not json_out) as progress:
        summary = score_rows(config, _workspace(), version=version, where=where, limit=limit,
                             progress=progress)
    if json_out:
        typer.echo(json.dumps(summary.as_dict(), indent=2, default=str))
        return
    from pipelines.cli.render import print_score

    print_score(summary)


@app.command()
@cli_errors
def new(name: str, from_: str = typer.Option("basic_template", "--from",
                                              help="The model folder to copy.")) -> None:
    """Scaffold a new model folder from an existing one, with a test of its own."""
    from pipelines.config.scaffold import scaffold_model

    folder, test = scaffold_model(name, from_)
    typer.secho(f"created {folder}\ncreated {test}", fg=typer.colors.GREEN)
    typer.echo(f"next: edit {folder / 'config.py'} (label, features, source), then\n"
               f"  fullcycle validate {name}\n  pytest {test}\n  fullcycle run {name}")


@data_app.command("seed")
@cli_errors
def data_seed() -> None:
    """Build the sample warehouse (basic_template, taxi_trips) deterministically."""
    from pipelines.data.warehouse import seed

    path = _workspace().warehouse
    counts = seed(path)
    typer.echo(f"seeded {path}: " + ", ".join(f"{t} {n} rows" for t, n in counts.items()))


@data_app.command("load")
@cli_errors
def data_load(table: str, file: Path) -> None:
    """Create or replace TABLE in the warehouse from a CSV or Parquet FILE."""
    from pipelines.data.warehouse import load

    rows = load(_workspace().warehouse, table, file)
    typer.echo(f"loaded {rows} rows into {table} ({_workspace().warehouse})")


@app.command()
@cli_errors
def schema(model: str,
           export: bool = typer.Option(False, "--export", help="Write it to the model folder's "
                                       "schema.pbtxt, to curate it (it then replaces the "
                                       "inferred schema)."),
           force: bool = typer.Option(False, "--force", help="With --export: replace an "
                                      "existing schema.pbtxt.")) -> None:
    """Show the model's baseline schema: the data of its last blessed run."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.cli.render import print_schema
    from pipelines.pipeline.baseline import export_schema, load_baseline_schema

    baseline, proto = load_baseline_schema(_workspace(), model)
    if export:
        path = export_schema(model, proto, force)
        typer.secho(f"wrote {path}: the pipeline now uses it instead of the inferred schema",
                    fg=typer.colors.GREEN)
        return
    print_schema(model, baseline, proto)


@app.command()
@cli_errors
def runs(model: str,
         json_out: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
         scores_only: bool = typer.Option(False, "--scores", help="List only the model's "
                                          "recent scores (`fullcycle score`).")) -> None:
    """List the model's local runs, newest first, then its recent scores."""
    from pipelines.config.registry import model_dir
    from pipelines.report.runs import list_runs, run_row
    from pipelines.report.scores import RECENT, list_scores, score_row

    model_dir(model)  # an unknown model is named as such
    rows = [] if scores_only else [run_row(r) for r in list_runs(_workspace(), model)]
    scores = [score_row(s) for s in list_scores(_workspace(), model, RECENT)]
    if json_out:
        typer.echo(json.dumps(scores if scores_only else rows, indent=2, default=str))
        return
    from pipelines.cli.render import print_runs, print_scores

    if not scores_only:
        print_runs(model, rows)
    print_scores(model, scores, scores_only)


@app.command()
@cli_errors
def report(model: str,
           run_id: str | None = typer.Option(None, "--run", help="A run id from `fullcycle "
                                             "runs` (default: the latest run)."),
           output: Path | None = typer.Option(None, "-o", "--output", help="Write the page "
                                              "here instead of .fullcycle/reports/.")) -> None:
    """Write a run's report: one self-contained HTML page (data, training, evaluation,
    fairness, infra validation, deployment, model card)."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import model_dir
    from pipelines.report.pages import write_report
    from pipelines.report.runs import find_run

    model_dir(model)
    record = find_run(_workspace(), model, run_id)
    path = write_report(_workspace(), record, output)
    typer.echo(f"report of run {record.run_id}: {path}")


@app.command()
@cli_errors
def monitor(model: str,
            window: str = typer.Option("1h", help="The window analysed (30m, 1h, 1d, ...); "
                                                  "drift compares it with the window before."),
            stack: str = stack_option("Monitoring thresholds from Pulumi.<stack>.yaml."),
            json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")
            ) -> None:
    """Check skew and drift of what MODEL's local endpoint served (the twin of Vertex AI
    Model Monitoring); exit 3 when an alert fired."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import model_dir
    from pipelines.serving.monitoring import monitor_model, parse_window

    model_dir(model)
    result = monitor_model(_workspace(), model, stack, parse_window(window))
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        from pipelines.cli.render import print_monitoring

        print_monitoring(result)
    if result["alerts"]:
        raise typer.Exit(3)


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
    app_ = runner_app(backend, stack, _workspace(), overrides, rollout_interval)
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
    workspace = _workspace()
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
    workspace = _workspace()
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


def main() -> None:
    run_skipping_teardown(lambda: app(prog_name="fullcycle"))


if __name__ == "__main__":
    sys.exit(main())
