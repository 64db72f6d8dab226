"""How the CLI shows a tuning: the trials, the best values, and where runs pick them up."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.pipeline.hyperparameters import tunable_names, used_tuned_values


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
    if not used_tuned_values(tuned):
        return (f"the config's own (tuning version {tuned['version']} kept them: "
                f"{tuned.get('decision') or 'no trial beat them'})")
    return (f"tuned (version {tuned['version']}, {tuned['objective']} "
            f"{value_text(tuned['score'])}): {values_text(tuned['values'])}")


def chosen_trial(tuned: dict[str, Any]) -> str | None:
    """The id of the trial runs train with: the adopted one, or ``config`` when kept."""
    if not used_tuned_values(tuned):
        return "config"
    return next((t["trial_id"] for t in tuned["trials"]
                 if t["status"] == "COMPLETED" and t["values"] == tuned["values"]), None)


def trials_table(tuned: dict[str, Any]) -> Table:
    """One row per trial: its values, objective (mean over folds), seconds and status;
    the one runs train with marked."""
    names = tunable_names(tuned)
    table = Table(title=f"trials (objective {tuned['objective']}, mean over the "
                        "cross-validation folds of train)", title_justify="left", box=None)
    for column in ("trial", *names, tuned["objective"], "seconds", ""):
        table.add_column(column)
    best = chosen_trial(tuned)
    for trial in tuned["trials"]:
        status = ("[green]best[/]" if used_tuned_values(tuned) else "[green]kept[/]") \
            if trial["trial_id"] == best else (
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
        if used_tuned_values(tuned):
            console.print(f"  best: {escape(values_text(tuned['values']))} (beat the "
                          "config's own values in every fold)")
            then = "trains with these values"
        else:
            console.print(f"  kept the config's own values: {escape(tuned.get('decision', ''))}")
            then = "trains with the config's own values"
        console.print(f"  recorded: {tuned['uri']}; `fullcycle run {summary.model}` {then}",
                      soft_wrap=True)
        if (per_trial := summary.seconds_per_trial) is not None:
            console.print(f"  tune seconds per trial: {per_trial:.1f}")
    console.print(f"  total: {summary.seconds:.1f} s")
    if summary.error:
        console.print(f"[red]tuning failed:[/] {escape(summary.error)}")
