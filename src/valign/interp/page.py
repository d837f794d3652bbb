"""The interpretability page: ``<out>/interp.html`` from whatever interp stages are done.

It draws each stage's report section (score histogram and best neurons, probe accuracy by
site, steering curves) with :mod:`valign.report`'s plot and formatting helpers, and adds
what the run report's sections cannot hold: the token-level activation view of the
best-explained neurons. The same sections also appear in ``report.html`` when the stages
run inside a pipeline run folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from valign.interp.common import INTERP_STAGES
from valign.interp.explain_job import read_neurons
from valign.records.runs import RunDir, atomic_write_text
from valign.report import format_value, plot_svg
from valign.report.html import markdownish

PAGE_FILE = "interp.html"
TOKEN_VIEW_NEURONS = 12


def shade(level: int) -> str:
    """Background for an activation level 0..10: white to saturated orange."""
    alpha = max(0, min(10, int(level))) / 10
    return f"rgba(230, 159, 0, {alpha:.1f})"


def visible(token: str) -> str:
    """A token as shown in one line: newlines and tabs as visible marks."""
    return token.replace("\n", "↵").replace("\t", "⇥")


def _is_numeric(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "value" in value
    return isinstance(value, int | float) and not isinstance(value, bool)


def _table(spec: Mapping[str, Any]) -> dict[str, Any]:
    percent = set(spec.get("percent") or [])
    columns = list(spec.get("columns") or [])
    rows = [
        [
            {
                "text": format_value(v, percent=i < len(columns) and columns[i] in percent),
                "numeric": _is_numeric(v),
            }
            for i, v in enumerate(row)
        ]
        for row in spec.get("rows") or []
    ]
    numeric = [
        bool(rows) and all(r[i]["numeric"] for r in rows if i < len(r)) for i in range(len(columns))
    ]
    return {"title": spec.get("title", ""), "columns": columns, "rows": rows, "numeric": numeric}


def _section(stage: str, report: Mapping[str, Any], index: int) -> dict[str, Any]:
    plots = [
        {"title": p.get("title", ""), "svg": Markup(plot_svg(p, id_prefix=f"p{index}-{i}"))}
        for i, p in enumerate(report.get("plots") or [])
    ]
    return {
        "stage": stage,
        "title": report.get("title", stage),
        "text": markdownish(report["text"]) if report.get("text") else None,
        "plots": plots,
        "tables": [_table(t) for t in report.get("tables") or []],
    }


def render_page(out: Path, title: str = "valign interpretability") -> Path:
    """Write ``out/interp.html`` and return its path."""
    run = RunDir(out)
    sections = []
    for i, stage in enumerate(INTERP_STAGES):
        summary = run.summary(stage)
        if summary and isinstance(summary.get("report"), Mapping):
            sections.append(_section(stage, summary["report"], i))
    neurons = sorted(read_neurons(run.stage_path("explain")), key=lambda n: -n["score"])
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("valign.interp", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("interp.html.j2").render(
        title=title,
        root=str(out),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        neurons=neurons[:TOKEN_VIEW_NEURONS],
        shade=shade,
        visible=visible,
        zip=zip,
    )
    return atomic_write_text(out / PAGE_FILE, html)
