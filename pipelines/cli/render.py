"""How the CLI shows progress and run summaries, on a terminal or piped."""

from __future__ import annotations

import contextlib
import os

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.pipeline.summary import RunSummary

# Wide enough that no summary line or table row is ever wrapped.
UNWRAPPED_WIDTH = 10_000


def make_console() -> Console:
    """A terminal (or notebook) gets its own width; a pipe, a log file or CI gets
    ``COLUMNS`` when set, else no wrapping at all, so no line is broken inside a phrase
    (rich's fallback is 80 columns) and a table row stays one line."""
    found = Console(highlight=False)
    if found.is_terminal or found.is_jupyter or os.environ.get("COLUMNS", "").isdigit():
        return found
    return Console(highlight=False, width=UNWRAPPED_WIDTH)


console = make_console()


def titled_table(title: str) -> Table:
    """A borderless table whose title is printed as its own line first: rich wraps a
    table's title to the table's width, breaking it mid-phrase above a narrow table."""
    console.print(f"[italic]{escape(title)}[/]")
    return Table(box=None)


def progress(node: str, state: str, seconds: float | None) -> None:
    """One line per component as the run goes."""
    if state == "running":
        if console.is_terminal:
            console.print(f"  [dim]… {node}[/]", end="\r")
    else:
        console.print(f"  [green]✓[/] {node:<32} {seconds:6.1f} s")


def _when(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def print_summary(summary: RunSummary) -> None:
    """The end-of-run summary: data, validation, metrics, blessing, push, timings."""
    console.print()
    if summary.cache == "run":
        console.print(f"Nothing changed since run {summary.run_id} (config, code, data): "
                      "answered from the run cache; `--force` runs TFX again.")
    console.print(f"[bold]Run {summary.run_id or '-'}[/] of model [bold]{summary.model}[/]")
    if summary.split_rows:
        rows = ", ".join(f"{k} {v}" for k, v in summary.split_rows.items())
        console.print(f"  rows per split: {rows}")
    if (validation := summary.validation) is not None:
        baseline = validation["baseline"]
        against = (f"against the baseline recorded {_when(baseline['recorded_at'])}"
                   if baseline else "no baseline yet: a blessed run becomes the baseline")
        if not validation["findings"]:
            console.print(f"  data validation ({against}): no findings")
        else:
            blocked = validation["blocked"]
            warned = sum(f["action"] == "warn" for f in validation["findings"])
            console.print(f"  data validation ({against}): "
                          + (f"[red]{blocked} blocking[/], " if blocked else "")
                          + f"{warned} warning(s)")
            for line in summary.anomalies:
                console.print(f"    - {escape(line)}")
    if summary.hyperparameters:
        from pipelines.cli.render_tuning import hyperparameters_line

        console.print(f"  hyperparameters: {escape(hyperparameters_line(summary.hyperparameters))}")
    if summary.metrics:
        table = titled_table("evaluation (overall slice)")
        for column in ("metric", "candidate", "baseline", "bounds", "max worsening", "result"):
            table.add_column(column)
        for m in summary.metrics:
            bounds = "" if m.lower_bound is None and m.upper_bound is None else \
                f"[{_fmt(m.lower_bound)}, {_fmt(m.upper_bound)}]"
            result = {None: "", True: "[green]pass[/]", False: "[red]fail[/]"}[m.passed]
            if m.note:
                result = f"[yellow]{escape(m.note)}[/]"
            table.add_row(m.name, _fmt(m.value), _fmt(m.baseline), bounds,
                          _fmt(m.change_limit) if m.change_limit is not None else "", result)
        console.print(table)
    if summary.fairness is not None:
        print_fairness(summary.fairness)
    if summary.blessed is not None:
        console.print("  blessed: " + ("[green]yes[/]" if summary.blessed else
                                       "[red]no[/]" + _refused_by(summary)))
    if (infra := summary.infra_validation) is not None:
        if infra.get("blessed"):
            console.print(f"  infra validation: [green]passed[/] (served in a separate process, "
                          f"{infra['requests']} requests, p99 {infra['latency_p99_ms']:.1f} ms)")
        else:
            console.print(f"  infra validation: [red]failed[/]: {infra.get('reason')}")
    if summary.pushed_path:
        console.print(f"  pushed to: {summary.pushed_path}")
    if summary.deployment:
        console.print(f"  endpoint: {summary.deployment}")
    elif summary.blessed is False or (infra and not infra.get("blessed")):
        console.print("  pushed: no (the served model is unchanged)")
    cached = summary.cached
    console.print(f"  total: {summary.seconds:.1f} s"
                  + (f"; from cache: {', '.join(cached)}" if cached else ""))
    if summary.error:
        console.print(f"[red]run failed:[/] {escape(summary.error)}")


def _refused_by(summary: RunSummary) -> str:
    """Which gates refused the blessing: overall metrics and/or fairness."""
    gates = [m.name for m in summary.metrics if m.passed is False]
    if summary.fairness and summary.fairness["violations"]:
        gates.append(f"fairness ({summary.fairness['violations']} failure(s))")
    return f" (failed: {', '.join(gates)})" if gates else ""


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3g}"


def print_fairness(report: dict) -> None:
    """The per-slice table (value and gap to overall per metric) and each failure named."""
    names = report["metrics"]
    table = titled_table(f"fairness (slices of at least {report['min_slice_size']} eval "
                         "examples are gated)")
    for column in ("slice", "examples", *names, "result"):
        table.add_column(column)
    overall = report["overall"]
    table.add_row("overall", str(overall["examples"]),
                  *(_fmt(overall["metrics"][name]) for name in names), "")
    for row in report["slices"]:
        cells = []
        for name in names:
            metric = row["metrics"][name]
            cells.append("undefined" if metric["value"] is None
                         else f"{_fmt(metric['value'])} ({_signed(metric['gap'])})")
        result = ("[dim]not gated[/]" if not row["gated"]
                  else "[green]pass[/]" if row["passed"] else "[red]fail[/]")
        table.add_row(escape(f"{row['column']}={row['value']}"), str(row["examples"]),
                      *cells, result)
    console.print(table)
    for failure in report["failures"]:
        where = (f"{failure['column']}={failure['value']}" if failure["value"] is not None
                 else failure["column"])
        console.print(f"    - [red]{escape(where)}[/]: {escape(failure['reason'])}")
    small = [f"{s['column']}={s['value']} ({s['examples']})" for s in report["not_gated"]]
    if small:
        console.print(f"    not gated (fewer than {report['min_slice_size']} examples or "
                      f"no value): {escape(', '.join(small))}")


def print_runs(model: str, rows: list[dict]) -> None:
    """``fullcycle runs``: one line per run, newest first."""
    if not rows:
        console.print(f"model {model} has no recorded runs yet (`fullcycle run {model}`)")
        return
    table = titled_table(f"runs of {model}, newest first")
    for column in ("run", "started", "seconds", "rows", "metric", "blessed", "pushed",
                   "tuned", "cached"):
        table.add_column(column, no_wrap=column in ("run", "started"))
    for row in rows:
        blessed = {None: "-", True: "[green]yes[/]", False: "[red]no[/]"}[row["blessed"]]
        if row["error"]:
            blessed = "[red]failed[/]"
        table.add_row(
            row["run_id"], _when(row["started_at"]) if row["started_at"] else "-",
            f"{row['seconds']:.1f}", " ".join(f"{k} {v}" for k, v in row["rows"].items()),
            f"{row['metric']} {_fmt(row['value'])}" if row["metric"] else "-", blessed,
            row["pushed_version"] or "-", "yes" if row.get("tuned") else "no",
            f"{row['cached_components']}/{row['components']}")
    console.print(table)


def print_monitoring(result: dict) -> None:
    """``fullcycle monitor``: the window, each deployed model, and every alert."""
    status = {"ok": "[green]ok[/]", "alert": "[red]alert[/]"}.get(result["status"],
                                                                   f"[yellow]{result['status']}[/]")
    console.print(f"[bold]{result['model']}[/] monitoring, window {result['window']}: {status}")
    for m in result["models"]:
        console.print(f"  deployed model {m['deployed_model_id']} (version {m['version'] or '?'})"
                      f": {m['requests']} requests sampled; skew {m['skew']}; drift {m['drift']}")
    for alert in result["alerts"]:
        console.print(
            f"  [red]alert[/] {alert['feature']}: {alert['kind']} {alert['distance']:.4g} > "
            f"{alert['threshold']:g} ({alert['measure']}), window {result['window']}, "
            f"deployed model {alert['deployed_model_id']}", soft_wrap=True)
    for note in result["notes"]:
        console.print(f"  [dim]{escape(note)}[/]")


def rollout_line(rollout) -> str:
    """Where a rollout stands, in one line."""
    if rollout is None:
        return "no rollout"
    last = rollout.history[-1] if rollout.history else None
    at = (f"step {rollout.step}" if rollout.status == "progressing" else rollout.status)
    detail = f"; last check at {last['weight']} %: {last['result']}" if last else ""
    why = f"; {rollout.reason}" if rollout.reason else ""
    return (f"{at}: candidate {rollout.candidate_id}, stable {rollout.stable_id}, "
            f"failed {rollout.failed}{detail}{why}")


def window_line(check: dict) -> str:
    """One analysis window of the candidate: requests, errors, latency, labelled MSE."""
    c, s = check["candidate"], check["stable"]
    mse = f", mse {c['mse']:.3g} vs {s['mse']:.3g}" if c["mse"] is not None \
        and s["mse"] is not None else ""
    return (f"{c['samples']} requests, errors {c['error_rate']:.1%}, "
            f"p99 {c['latency_p99_ms']:.1f} ms{mse}")


def print_schema(model: str, baseline, schema) -> None:
    """A schema as a table: feature, type, presence, domain."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    domains = {d.name: list(d.value) for d in schema.string_domain}
    console.print(f"Baseline schema of [bold]{model}[/] (recorded {_when(baseline.recorded_at)}"
                  f", from {baseline.source})")
    table = Table(box=None)
    for column in ("feature", "type", "presence", "domain"):
        table.add_column(column)
    for feature in schema.feature:
        presence = (f"≥ {feature.presence.min_fraction:.0%}" if feature.HasField("presence")
                    and feature.presence.min_fraction else "optional")
        values = domains.get(feature.domain) if feature.HasField("domain") else None
        domain = (", ".join(values[:6]) + (f", … ({len(values)})" if len(values) > 6 else "")
                  if values else "")
        table.add_row(feature.name, schema_pb2.FeatureType.Name(feature.type), presence, domain)
    console.print(table)


@contextlib.contextmanager
def score_progress(enabled: bool):
    """A progress bar for ``fullcycle score`` on a terminal: yields its callback (or None)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[dim]scoring[/]", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("score", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_score(summary) -> None:
    """``fullcycle score``: the summary line, then each finding that did not block."""
    console.print(escape(summary.line()), soft_wrap=True)
    from pipelines.pipeline.validation import Finding

    for finding in summary.findings:
        console.print(f"    - {escape(Finding(**finding).line())}", soft_wrap=True)


def print_scores(model: str, rows: list[dict], say_none: bool = False) -> None:
    """The model's recent scores, newest first (under ``fullcycle runs``)."""
    if not rows:
        if say_none:
            console.print(f"model {model} has no recorded scores yet (`fullcycle score "
                          f"{model}`)")
        return
    table = Table(title=f"scores of {model}, newest first", title_justify="left", box=None)
    for column in ("score", "started", "status", "version", "rows", "seconds", "destination",
                   "data check"):
        table.add_column(column, no_wrap=column in ("score", "started"))
    for row in rows:
        status = {"scored": "[green]scored[/]", "blocked": "[red]blocked[/]"}.get(
            row["status"], f"[red]{row['status']}[/]")
        table.add_row(row["score_id"], _when(row["started_at"]), status, row["version"],
                      str(row["rows"]), f"{row['seconds']:.1f}", row["destination"],
                      escape(row["findings"]))
    console.print(table)
