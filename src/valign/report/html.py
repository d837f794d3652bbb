"""One self-contained ``report.html`` from a run folder.

Stages contribute sections without any registry: a stage's ``DONE.json`` summary may hold
a ``"report"`` entry, and the renderer draws whatever it finds::

    "report": {
      "title": "Red teaming",            # section heading (default: the stage name)
      "order": 40,                       # sections are sorted by (order, stage name)
      "text": "Attack success **fell** from 41% to 6%.\\n\\n- one bullet",
      "tables": [{"title": "By family", "columns": ["family", "success"],
                  "rows": [["roleplay", {"value": 0.06, "low": 0.03, "high": 0.1, "n": 120,
                                         "kind": "proportion"}]],
                  "percent": ["rate"]}],   # optional: plain floats shown as %
      "plots": [{"title": "...", "kind": "bar", "data": {...}}],   # see valign.report.plots
      "samples": [{"title": "Successful attacks", "file": "records.jsonl",
                   "columns": ["attack", "response"], "where": {"success": true},
                   "limit": 10}]
    }

A table row is a list (one cell per column) or a dict keyed by column name. A cell that is
an estimate dict (``Estimate.to_dict()``) is shown as ``62.5% [55.1, 69.4]`` for a
proportion, ``0.412 [0.380, 0.445]`` otherwise. Samples show records from the stage's own
JSONL files. A stage without a ``"report"`` entry gets a section listing its scalar
summary values; a stage without ``DONE.json`` is listed as incomplete.

The page has no external assets: CSS is inline and plots are inline SVG. All text goes
through Jinja autoescaping, because records contain model outputs, which may contain HTML.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from valign.errors import UserError
from valign.records.runs import RunDir, read_records
from valign.report.plots import PlotSpecError, plot_svg

__all__ = [
    "REPORT_FILE",
    "format_estimate",
    "format_value",
    "markdownish",
    "render_report",
]

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
DEFAULT_ORDER = 1000
_SAMPLE_LIMIT = 20
_TEXT_CELL_CHARS = 60  # longer strings get the wrapping "text" cell style


# --------------------------------------------------------------------------- formatting


def _is_estimate(value: Any) -> bool:
    return isinstance(value, Mapping) and {"value", "low", "high"} <= value.keys()


def _decimals(*xs: float) -> int:
    biggest = max((abs(x) for x in xs if math.isfinite(x)), default=0.0)
    if biggest >= 100:
        return 1
    if biggest >= 1:
        return 2
    return 3


def _fmt_float(x: float, decimals: int | None = None) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if decimals is None:
        if abs(x) >= 10_000:
            return f"{x:,.0f}"
        decimals = _decimals(x)
    return f"{x:,.{decimals}f}"


def format_estimate(estimate: Mapping[str, Any]) -> str:
    """``62.5% [55.1, 69.4]`` for a proportion, ``0.412 [0.380, 0.445]`` otherwise."""
    value, low, high = (float(estimate[k]) for k in ("value", "low", "high"))
    if estimate.get("kind") == "proportion":
        return f"{value * 100:.1f}% [{low * 100:.1f}, {high * 100:.1f}]"
    decimals = _decimals(value, low, high)
    return (
        f"{_fmt_float(value, decimals)} [{_fmt_float(low, decimals)}, {_fmt_float(high, decimals)}]"
    )


def format_value(value: Any, *, percent: bool = False) -> str:
    """A table cell's text: estimates, numbers (optionally as %), booleans, JSON for lists."""
    if value is None:
        return "—"
    if _is_estimate(value):
        return format_estimate(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value * 100}%" if percent else f"{value:,}"
    if isinstance(value, float):
        return f"{value * 100:.1f}%" if percent and math.isfinite(value) else _fmt_float(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _is_numeric(value: Any) -> bool:
    return _is_estimate(value) or (isinstance(value, int | float) and not isinstance(value, bool))


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
]


def _inline(text: str) -> str:
    """Inline markup on already-escaped text (code spans are not further formatted)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{part[1:-1]}</code>")
        else:
            for pattern, repl in _INLINE:
                part = pattern.sub(repl, part)
            out.append(part)
    return "".join(out)


_BULLET = re.compile(r"^\s*[-*]\s+")


def markdownish(text: str) -> Markup:
    """A small, safe subset of Markdown: paragraphs, ``-`` lists, ``**bold**``, ``*em*``, code.

    The text is HTML-escaped first, so only the tags added here can appear.
    """
    blocks = re.split(r"\n\s*\n", str(text).strip())
    html: list[str] = []
    for block in blocks:
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if all(_BULLET.match(line) for line in lines):
            items = "".join(
                f"<li>{_inline(str(escape(_BULLET.sub('', line))))}</li>" for line in lines
            )
            html.append(f"<ul>{items}</ul>")
        else:
            body = "<br>".join(_inline(str(escape(line))) for line in lines)
            html.append(f"<p>{body}</p>")
    return Markup("\n".join(html))


# --------------------------------------------------------------------------- view model


@dataclass
class Cell:
    text: str
    numeric: bool = False
    long: bool = False
    tooltip: str | None = None


@dataclass
class TableView:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str | None = None


@dataclass
class PlotView:
    title: str
    svg: Markup | None
    error: str | None = None
    caption: str | None = None


@dataclass
class SectionView:
    stage: str
    anchor: str
    title: str
    order: int
    done: bool
    finished: str | None
    text: Markup | None = None
    tables: list[TableView] = field(default_factory=list)
    plots: list[PlotView] = field(default_factory=list)
    manifest_json: str | None = None
    config_hash: str | None = None
    seed: Any = None
    problems: list[str] = field(default_factory=list)


def _cell(value: Any, *, percent: bool = False) -> Cell:
    text = format_value(value, percent=percent)
    tooltip = f"n = {value['n']:,}" if _is_estimate(value) and "n" in value else None
    return Cell(
        text=text,
        numeric=_is_numeric(value),
        long=isinstance(value, str) and len(value) > _TEXT_CELL_CHARS,
        tooltip=tooltip,
    )


def _table(spec: Mapping[str, Any]) -> TableView:
    columns = [str(c) for c in spec.get("columns") or []]
    percent_cols = set(spec.get("percent") or [])
    rows: list[list[Cell]] = []
    for raw in spec.get("rows") or []:
        if isinstance(raw, Mapping):
            if not columns:
                columns = [str(k) for k in raw]
            values = [raw.get(c) for c in columns]
        elif isinstance(raw, Sequence) and not isinstance(raw, str):
            values = list(raw)
        else:
            values = [raw]
        rows.append(
            [
                _cell(v, percent=i < len(columns) and columns[i] in percent_cols)
                for i, v in enumerate(values)
            ]
        )
    note = spec.get("note")
    return TableView(
        title=str(spec.get("title") or ""),
        columns=columns,
        rows=rows,
        note=str(note) if note else None,
    )


def _samples(stage_dir: Path, spec: Mapping[str, Any]) -> TableView:
    """A table of records from one of the stage's own JSONL files."""
    name = str(spec.get("file") or "records.jsonl")
    path = (stage_dir / name).resolve()
    if not path.is_relative_to(stage_dir.resolve()):
        raise ValueError(f"sample file {name!r} is outside the stage folder")
    where = spec.get("where") or {}
    if not isinstance(where, Mapping):
        raise TypeError("'where' must map field names to values")
    limit = int(spec.get("limit") or _SAMPLE_LIMIT)
    chosen = [r for r in read_records(path) if all(r.get(k) == v for k, v in where.items())][:limit]
    columns = [str(c) for c in spec.get("columns") or []]
    if not columns and chosen:
        columns = list(chosen[0])
    title = str(spec.get("title") or f"Samples from {name}")
    return _table(
        {
            "title": title,
            "columns": columns,
            "rows": [{c: r.get(c) for c in columns} for r in chosen],
            "note": spec.get("note") or (None if chosen else "No matching records."),
        }
    )


def _metrics_table(summary: Mapping[str, Any]) -> TableView | None:
    """Fallback for stages without a report entry: their scalar and estimate values."""
    rows = [
        [key, value]
        for key, value in summary.items()
        if key != "report"
        and (value is None or _is_estimate(value) or isinstance(value, str | int | float))
    ]
    if not rows:
        return None
    return _table({"title": "Summary", "columns": ["metric", "value"], "rows": rows})


def _when(stamp: Any) -> str | None:
    """``2026-01-02 03:04 UTC`` from an ISO timestamp (left as is if it does not parse)."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _spec_title(spec: Any) -> str:
    return str(spec.get("title") or "") if isinstance(spec, Mapping) else ""


def _anchor(stage: str) -> str:
    return "stage-" + re.sub(r"[^A-Za-z0-9_-]+", "-", stage)


def _section(run: RunDir, stage: str, plot_counter: list[int]) -> SectionView:
    stage_dir = run.stage_path(stage)
    marker = run.done_marker(stage)
    manifest = (marker or {}).get("manifest") or run.read_manifest(stage)
    summary = (marker or {}).get("summary") or {}
    spec = summary.get("report") if isinstance(summary, Mapping) else None
    spec = spec if isinstance(spec, Mapping) else {}
    order = spec.get("order", DEFAULT_ORDER)
    view = SectionView(
        stage=stage,
        anchor=_anchor(stage),
        title=str(spec.get("title") or stage),
        order=order if isinstance(order, int) else DEFAULT_ORDER,
        done=marker is not None,
        finished=_when((marker or {}).get("finished")),
    )
    if isinstance(manifest, Mapping):
        view.manifest_json = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
        view.config_hash = manifest.get("config_hash")
        view.seed = manifest.get("seed")
    if spec.get("text"):
        view.text = markdownish(str(spec["text"]))
    for table in spec.get("tables") or []:
        try:
            view.tables.append(_table(table))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            view.problems.append(f"table {_spec_title(table)!r}: {exc}")
    for plot in spec.get("plots") or []:
        plot_counter[0] += 1
        title = _spec_title(plot)
        try:
            svg = plot_svg(plot, id_prefix=f"plot{plot_counter[0]}")
            view.plots.append(PlotView(title, Markup(svg), caption=plot.get("caption")))
        except (PlotSpecError, TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("stage %s: plot %r not drawn: %s", stage, title, exc)
            view.plots.append(PlotView(title, None, error=str(exc)))
    for sample in spec.get("samples") or []:
        try:
            view.tables.append(_samples(stage_dir, sample))
        except (TypeError, ValueError, KeyError, AttributeError, UserError) as exc:
            view.problems.append(f"samples {_spec_title(sample)!r}: {exc}")
    if not spec and isinstance(summary, Mapping):
        metrics = _metrics_table(summary)
        if metrics is not None:
            view.tables.append(metrics)
    return view


# --------------------------------------------------------------------------- render


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("valign.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render_report(
    run_dir: str | Path, out: str | Path | None = None, *, title: str | None = None
) -> Path:
    """Render ``run_dir``'s stages into one self-contained HTML file and return its path.

    ``out`` defaults to ``run_dir / "report.html"``. Safe to call on an unfinished run:
    stages without ``DONE.json`` are shown as incomplete. A malformed plot or table spec
    is shown as a problem note in its section instead of aborting the whole report.
    """
    from valign import __version__
    from valign.records.runs import atomic_write_text

    root = Path(run_dir)
    if not root.is_dir():
        raise UserError(f"run folder {root} does not exist")
    run = RunDir(root)
    counter = [0]
    sections = [_section(run, stage, counter) for stage in run.stages()]
    sections = [s for s in sections if s.done or s.manifest_json is not None]
    sections.sort(key=lambda s: (s.order, s.stage))
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title or f"valign report: {root.resolve().name}",
            run_name=root.resolve().name,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            sections=sections,
        )
    )
    target = Path(out) if out is not None else root / REPORT_FILE
    atomic_write_text(target, html)
    return target
