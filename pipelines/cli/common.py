"""The ``fullcycle`` command's shared parts: the Typer apps, the error wrapper, options.

The commands live in ``main`` (a model's workflow: run, tune, score, report...),
``cloud`` (compile, the runner and its schedules, the infrastructure plan) and
``serving`` (the local endpoint and the canary); each registers on ``app``.
"""

from __future__ import annotations

import functools
import os

import typer

from pipelines.config.errors import FullcycleError

app = typer.Typer(help="fullcycle: from a model folder to a trained, evaluated, pushed model.",
                  no_args_is_help=True, add_completion=False)
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


def current_workspace():
    from pipelines.settings import Workspace

    return Workspace.from_env()
