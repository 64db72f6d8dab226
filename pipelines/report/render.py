"""The run report page and the model card, rendered from Jinja2 templates.

The page is self-contained: inline CSS and SVG, no script, no font or style
from the network; it opens from disk in any browser and prints on A4.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import jinja2

from pipelines.pipeline.hyperparameters import tunable_names, used_tuned_values
from pipelines.report.facts import ReportFacts

MODEL_CARD_FILE = "model_card.md"


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}g}"


def _tick(value: float) -> str:
    """An axis label short enough for the chart's margin: 27230, not 2.723e+04."""
    return f"{value:.0f}" if 1000 <= abs(value) < 1_000_000 else _num(value, 3)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _bounds(metric) -> str:
    lower, upper = metric.lower_bound, metric.upper_bound
    return "" if lower is None and upper is None else f"[{_num(lower)}, {_num(upper)}]"


def _result(passed: bool | None) -> str:
    return {None: "", True: "pass", False: "fail"}[passed]


def _slice_result(row: dict) -> str:
    return "not gated" if not row["gated"] else "pass" if row["passed"] else "fail"


def _shift(check: dict) -> float | None:
    from pipelines.canary.endpoint import WindowMetrics
    from pipelines.canary.policy import prediction_shift

    candidate, stable = WindowMetrics(**check["candidate"]), WindowMetrics(**check["stable"])
    if candidate.mean_prediction is None or stable.mean_prediction is None:
        return None
    return prediction_shift(candidate, stable)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipelines.report", "templates"),
        autoescape=autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    env.filters.update(num=_num, tick=_tick, signed=_signed, pct=_pct, when=_when, bounds=_bounds,
                       result=_result, slice_result=_slice_result, shift=_shift,
                       yesno=lambda v: {None: "-", True: "yes", False: "no"}[v],
                       seconds=lambda v: f"{v:.1f} s", code=lambda v: f"`{v}`",
                       used_tuned=used_tuned_values, tunables=tunable_names)
    return env


_HTML = _environment(autoescape=True)
_MARKDOWN = _environment(autoescape=False)


def render_report(facts: ReportFacts) -> str:
    """The report page of one run."""
    return _HTML.get_template("report.html.j2").render(f=facts)


def render_model_card(facts: ReportFacts) -> str:
    """The model card of one run, in Markdown."""
    return _MARKDOWN.get_template("model_card.md.j2").render(
        f=facts, s=facts.summary, card=facts.config.model_card)
