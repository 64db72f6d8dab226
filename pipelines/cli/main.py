"""``fullcycle``: from a model folder to a trained, evaluated, pushed model.

Heavy libraries (TensorFlow, TFX, Beam) are imported inside the commands that
need them, so ``--help``, ``list`` and ``validate`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

import pipelines  # noqa: F401 - pins Keras 2 before anything imports TensorFlow
from pipelines.cli.common import app, cli_errors, current_workspace, data_app, stack_option
from pipelines.config.errors import FullcycleError
from pipelines.process_exit import run_skipping_teardown


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
    workspace = current_workspace()
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
    console.print(f"Running [bold]{model}[/] locally (warehouse {current_workspace().warehouse})")
    summary = run_local(config, current_workspace(), overrides=overrides, verbose=verbose,
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
                  f"(warehouse {current_workspace().warehouse})")
    summary = tune_local(config, current_workspace(), use_cache=not force, overrides=overrides,
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

        client = endpoint_client(current_workspace(), model)
        try:
            answer = client.predict(rows)
        finally:
            client.close()
        typer.echo(json.dumps({"model": model, "deployedModelId": answer["deployedModelId"],
                               "predictions": answer["predictions"]}, indent=2))
        return
    version = served_version(current_workspace().serving_model_dir(model), model)
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
        summary = score_rows(config, current_workspace(), version=version, where=where, limit=limit,
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

    path = current_workspace().warehouse
    counts = seed(path)
    typer.echo(f"seeded {path}: " + ", ".join(f"{t} {n} rows" for t, n in counts.items()))


@data_app.command("load")
@cli_errors
def data_load(table: str, file: Path) -> None:
    """Create or replace TABLE in the warehouse from a CSV or Parquet FILE."""
    from pipelines.data.warehouse import load

    rows = load(current_workspace().warehouse, table, file)
    typer.echo(f"loaded {rows} rows into {table} ({current_workspace().warehouse})")


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

    baseline, proto = load_baseline_schema(current_workspace(), model)
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
    rows = [] if scores_only else [run_row(r) for r in list_runs(current_workspace(), model)]
    scores = [score_row(s) for s in list_scores(current_workspace(), model, RECENT)]
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
    record = find_run(current_workspace(), model, run_id)
    path = write_report(current_workspace(), record, output)
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
    result = monitor_model(current_workspace(), model, stack, parse_window(window))
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        from pipelines.cli.render import print_monitoring

        print_monitoring(result)
    if result["alerts"]:
        raise typer.Exit(3)


from pipelines.cli import cloud as _cloud_commands  # noqa: E402, F401 - they register on app
from pipelines.cli import serving as _serving_commands  # noqa: E402, F401


def main() -> None:
    run_skipping_teardown(lambda: app(prog_name="fullcycle"))


if __name__ == "__main__":
    sys.exit(main())
