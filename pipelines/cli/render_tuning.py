"""How the CLI shows a tuning: the trials, the best values, and where runs pick them up."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def value_text(value: Any) -> str:
    """A hyperparameter value, short: floats to 3 significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def values_text(values: dict[str, Any]) -> str:
    """``name=value, ...`` in the search space's order."""
    return ", ".join(f"{name}={value_text(value)}" for name, value in values.items())


def hyperparameters_line(tuned: dict[str, Any] | None) -> str | None:
    """What a run trained with, in one line (None: the config's own values, never tuned)."""
    if not tuned:
        return None
    return (f"tuned (version {tuned['version']}, {tuned['objective']} "
            f"{value_text(tuned['score'])}): {values_text(tuned['values'])}")


def trials_table(tuned: dict[str, Any]) -> Table:
    """One row per trial: its values, objective, seconds and status; the best marked."""
    names = list(tuned["values"])
    table = Table(title=f"trials (objective {tuned['objective']}, on the validation split)",
                  title_justify="left", box=None)
    for column in ("trial", *names, tuned["objective"], "seconds", ""):
        table.add_column(column)
    best = next((t["trial_id"] for t in tuned["trials"]
                 if t["status"] == "COMPLETED" and t["values"] == tuned["values"]), None)
    for trial in tuned["trials"]:
        status = "[green]best[/]" if trial["trial_id"] == best else (
            "" if trial["status"] == "COMPLETED" else f"[red]{escape(trial['status'])}[/]")
        seconds = trial.get("seconds")
        table.add_row(trial["trial_id"], *(escape(value_text(trial["values"].get(n, "-")))
                                          for n in names),
                      value_text(trial["score"]) if trial["score"] is not None else "-",
                      f"{seconds:.1f}" if seconds is not None else "-", status)
    return table


def print_tuning(summary, console: Console) -> None:
    """The end-of-tuning summary (a ``workflows.tune.TuneSummary``) on the CLI's console."""
    console.print()
    console.print(f"[bold]Tuning[/] of model [bold]{summary.model}[/]")
    tuned = summary.result
    if tuned and summary.succeeded:
        if not summary.new_result:
            console.print("  nothing changed since the last tuning (config, code, data): "
                          "its result stands; `--force` tunes again")
        console.print(trials_table(tuned))
        console.print(f"  best: {escape(values_text(tuned['values']))}")
        console.print(f"  recorded: {tuned['uri']}; `fullcycle run {summary.model}` trains "
                      "with these values", soft_wrap=True)
        if (per_trial := summary.seconds_per_trial) is not None:
            console.print(f"  tune seconds per trial: {per_trial:.1f}")
    console.print(f"  total: {summary.seconds:.1f} s")
    if summary.error:
        console.print(f"[red]tuning failed:[/] {escape(summary.error)}")
