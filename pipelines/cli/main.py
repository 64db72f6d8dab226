"""``fullcycle``: from a model folder to a trained, evaluated, pushed model.

Heavy libraries (TensorFlow, TFX, Beam) are imported inside the commands that
need them, so ``--help``, ``list`` and ``validate`` stay fast.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path

import typer

import pipelines  # noqa: F401 - pins Keras 2 before anything imports TensorFlow
from pipelines.config.errors import FullcycleError

app = typer.Typer(help=__doc__.split("\n")[0], no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="The local warehouse (DuckDB): seed samples, load your data.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")
infra_app = typer.Typer(help="Infrastructure (Pulumi): plan offline what `pulumi up` creates.",
                        no_args_is_help=True)
app.add_typer(infra_app, name="infra")


def cli_errors(fn):
    """Prints a FullcycleError as one clear message and exits 2; no traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FullcycleError as err:
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
    return wrapper


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
    workspace = _workspace()
    checked = "config"
    if workspace.warehouse.exists():
        from pipelines.pipeline.local import check_source

        check_source(config, workspace)
        checked = "config and source columns"
    typer.secho(f"{model}: {checked} OK", fg=typer.colors.GREEN)
    typer.echo(f"  task {config.task}, model {config.model_type}, label {config.label_key!r}")
    for group, keys in config.feature_groups.items():
        if keys:
            typer.echo(f"  {group}: {', '.join(keys)}")


@app.command()
@cli_errors
def run(model: str,
        train_steps: int | None = typer.Option(None, help="Override: train this many steps."),
        eval_steps: int | None = typer.Option(None, help="Override: evaluate this many steps."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Show TF/Beam/TFX logs."),
        force: bool = typer.Option(False, "--force", help="Run TFX even if nothing changed "
                                   "(its per-component cache still applies)."),
        json_out: Path | None = typer.Option(None, "--json", help="Also write the summary here.")
        ) -> None:
    """Run the model's full TFX pipeline locally and print a summary."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(verbose)
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
                        use_run_cache=not force, on_event=progress)
    print_summary(summary)
    if json_out:
        json_out.write_text(json.dumps(summary.as_dict(), indent=2, default=str))
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@cli_errors
def predict(model: str,
            instances: Path = typer.Option(
                ..., help="JSON: a list of objects or {'instances': [...]}"),
            ) -> None:
    """Predict with the model's served (latest pushed) version."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.config.registry import model_dir
    from pipelines.serving.model_store import LoadedModel, read_instances, served_version

    model_dir(model)
    rows = read_instances(instances)
    version = served_version(_workspace().serving_model_dir(model), model)
    predictions = LoadedModel(version).predict(rows)
    typer.echo(json.dumps({"model": model, "version": version.name,
                           "predictions": predictions}, indent=2))


@app.command()
@cli_errors
def new(name: str, from_: str = typer.Option("basic_template", "--from",
                                              help="The model folder to copy.")) -> None:
    """Scaffold a new model folder from an existing one."""
    from pipelines.config.model_config import _IDENTIFIER
    from pipelines.config.registry import MODELS_DIR, model_dir

    source = model_dir(from_)
    if not _IDENTIFIER.match(name):
        raise FullcycleError(f"model name {name!r} must be a letter or _ followed by letters, "
                             "digits or _ (it becomes a Python package)")
    target = MODELS_DIR / name
    if target.exists():
        raise FullcycleError(f"model folder {target} already exists")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "__init__.py").write_text(f'"""{name}: a fullcycle model."""\n')
    typer.secho(f"created {target}", fg=typer.colors.GREEN)
    typer.echo(f"next: edit {target / 'config.py'} (label, features, source), then\n"
               f"  fullcycle validate {name}\n  fullcycle run {name}")


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


@app.command("compile")
@cli_errors
def compile_(model: str, stack: str = typer.Option("dev", help="Reads Pulumi.<stack>.yaml."),
             output: Path = typer.Option(Path("pipeline.json"), "-o", "--output")) -> None:
    """Compile the model's pipeline for Vertex AI Pipelines (offline, no credentials)."""
    from pipelines.pipeline.quiet import quiet_environment

    quiet_environment(False)
    from pipelines.cloud.vertex import CloudTarget, compile_pipeline
    from pipelines.config.registry import load_config

    spec = compile_pipeline(load_config(model), CloudTarget.from_stack(model, stack), output)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    typer.echo(f"wrote {output}: {len(tasks)} tasks, pipeline root "
               f"{spec['runtimeConfig']['gcsOutputDirectory']}")


@infra_app.command("plan")
@cli_errors
def infra_plan(stack: str = typer.Option("dev", help="Reads Pulumi.<stack>.yaml.")) -> None:
    """Print every resource `pulumi up` would create, grouped by model (no credentials)."""
    from infra.config import StackConfig
    from infra.plan import plan
    from infra.render import render_plan

    typer.echo(render_plan(plan(StackConfig.from_stack_file(stack))))


def main() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    app(prog_name="fullcycle")


if __name__ == "__main__":
    sys.exit(main())
