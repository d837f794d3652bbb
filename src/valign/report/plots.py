"""Plot specs (plain JSON data) to inline SVG strings.

A stage describes a plot as data in its summary, so the summary stays JSON and the report
can be re-rendered without re-running anything::

    {"title": "Refusal rate", "kind": "bar",
     "data": {"labels": ["harmful", "benign"],
              "values": [{"value": 0.9, "low": 0.85, "high": 0.94, "n": 200,
                          "kind": "proportion"}, 0.05]}}

Kinds and their ``data``:

``bar``
    ``labels`` and ``values``; a value is a number or an estimate dict
    (``value``/``low``/``high``, e.g. ``Estimate.to_dict()``), which draws an error bar.
    Optional ``low``/``high`` lists give error bars for plain numbers.
``grouped_bar``
    ``groups`` (x labels) and ``series``: ``{"before": [...], "after": [...]}`` with one
    value (number or estimate dict) per group. For before/after comparisons.
``line``
    ``x`` and ``series``: ``{"name": [y, ...]}`` (or a single ``y`` list). Estimate dicts
    as y values draw a shaded interval band. Optional ``xscale``/``yscale`` ("log").
``histogram``
    ``values`` (one sample) or ``series`` (``{"name": [values]}``, overlaid), ``bins``.
``heatmap``
    ``rows`` and ``columns`` (labels) and ``values``: one list per row, one value (number,
    estimate dict, or null for an empty cell) per column. Cells are annotated with their
    value; ``vmin``/``vmax`` fix the colour scale (default 0..1 for proportions).
``scatter``
    ``points``: ``[{"label": ..., "x": value, "y": value}]`` with numbers or estimate dicts
    (error bars on both axes); ``frontier: true`` joins the points no other point beats on
    both axes (lower is better on both, e.g. harm against over-refusal).

Common optional keys: ``figsize`` ([width, height] in inches), ``xlabel``, ``ylabel``,
``percent`` (format the value axis as %; default: true when every value is a proportion
estimate), ``ylim`` ([low, high]),
``reference`` (a horizontal reference line value, e.g. 0 for a bias score).

Figures are drawn with matplotlib's object API and the Agg/SVG backends only (no pyplot
state, no display needed). Text stays text in the SVG (``svg.fonttype: none``), so the
page's fonts apply and the output is small and deterministic.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

__all__ = ["PALETTE", "PLOT_KINDS", "PlotSpecError", "plot_svg"]

#: Colour-blind-safe palette (Okabe & Ito 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
PLOT_KINDS = ("bar", "grouped_bar", "line", "histogram", "heatmap", "scatter")

_RC: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "valign",
    "text.parse_math": False,  # labels are data (model names, prompts), never TeX
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": "#333333",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
}


class PlotSpecError(ValueError):
    """A plot spec is malformed (wrong kind, missing data, mismatched lengths)."""


# --------------------------------------------------------------------------- values


def _is_estimate(value: Any) -> bool:
    return isinstance(value, Mapping) and {"value", "low", "high"} <= value.keys()


def _num(value: Any, what: str) -> float:
    if _is_estimate(value):
        value = value["value"]
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlotSpecError(f"{what}: expected a number or an estimate, got {value!r}")
    return float(value)


def _bounds(
    values: Sequence[Any], low: Sequence[Any] | None, high: Sequence[Any] | None, what: str
) -> tuple[list[float], list[float], list[float], bool]:
    """Centre values and lower/upper bounds; the bool says whether any bound exists."""
    centre = [_num(v, what) for v in values]
    lows: list[float] = []
    highs: list[float] = []
    has_bounds = False
    for i, v in enumerate(values):
        if _is_estimate(v):
            lo, hi = _num(v["low"], what), _num(v["high"], what)
            has_bounds = True
        elif low is not None and high is not None:
            lo, hi = _num(low[i], what), _num(high[i], what)
            has_bounds = True
        else:
            lo = hi = centre[i]
        lows.append(lo)
        highs.append(hi)
    return centre, lows, highs, has_bounds


def _all_proportions(values: Sequence[Any]) -> bool:
    return bool(values) and all(_is_estimate(v) and v.get("kind") == "proportion" for v in values)


def _seq(data: Mapping[str, Any], key: str, kind: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise PlotSpecError(f"{kind} plot needs a list under data.{key!r}")
    return list(value)


def _series(data: Mapping[str, Any], kind: str) -> dict[str, list[Any]]:
    series = data.get("series")
    if isinstance(series, Mapping) and series:
        out: dict[str, list[Any]] = {}
        for name, values in series.items():
            if not isinstance(values, Sequence) or isinstance(values, str):
                raise PlotSpecError(f"{kind} plot: series {name!r} must be a list")
            out[str(name)] = list(values)
        return out
    raise PlotSpecError(f"{kind} plot needs a non-empty mapping under data.'series'")


def _error_arms(centre: list[float], lows: list[float], highs: list[float]) -> list[list[float]]:
    below = [
        max(0.0, c - lo) if math.isfinite(c - lo) else 0.0
        for c, lo in zip(centre, lows, strict=True)
    ]
    above = [
        max(0.0, hi - c) if math.isfinite(hi - c) else 0.0
        for c, hi in zip(centre, highs, strict=True)
    ]
    return [below, above]


# --------------------------------------------------------------------------- drawing


def _bar(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    labels = [str(x) for x in _seq(data, "labels", "bar")]
    values = _seq(data, "values", "bar")
    if len(labels) != len(values):
        raise PlotSpecError(f"bar plot: {len(labels)} labels but {len(values)} values")
    low, high = data.get("low"), data.get("high")
    if (low is None) != (high is None) or (
        low is not None
        and high is not None
        and (len(low) != len(values) or len(high) != len(values))
    ):
        raise PlotSpecError("bar plot: 'low' and 'high' must both be given, one per value")
    centre, lows, highs, has_bounds = _bounds(values, low, high, "bar plot")
    colors = (
        [PALETTE[i % len(PALETTE)] for i in range(len(values))]
        if data.get("color_each")
        else PALETTE[0]
    )
    ax.bar(
        range(len(values)),
        centre,
        color=colors,
        width=0.65,
        yerr=_error_arms(centre, lows, highs) if has_bounds else None,
        capsize=4,
        error_kw={"elinewidth": 1.2, "ecolor": "#333333"},
        zorder=2,
    )
    ax.set_xticks(range(len(values)), labels)
    _rotate_if_long(ax, labels)
    ax.grid(axis="y", zorder=0)
    return values


def _grouped_bar(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    groups = [str(x) for x in _seq(data, "groups", "grouped_bar")]
    series = _series(data, "grouped_bar")
    n_series = len(series)
    width = 0.8 / n_series
    all_values: list[Any] = []
    for s, (name, values) in enumerate(series.items()):
        if len(values) != len(groups):
            raise PlotSpecError(
                f"grouped_bar plot: series {name!r} has {len(values)} values "
                f"for {len(groups)} groups"
            )
        centre, lows, highs, has_bounds = _bounds(values, None, None, "grouped_bar plot")
        offset = (s - (n_series - 1) / 2) * width
        ax.bar(
            [g + offset for g in range(len(groups))],
            centre,
            width=width * 0.92,
            label=name,
            color=PALETTE[s % len(PALETTE)],
            yerr=_error_arms(centre, lows, highs) if has_bounds else None,
            capsize=3,
            error_kw={"elinewidth": 1.1, "ecolor": "#333333"},
            zorder=2,
        )
        all_values.extend(values)
    ax.set_xticks(range(len(groups)), groups)
    _rotate_if_long(ax, groups)
    ax.grid(axis="y", zorder=0)
    # Above the axes: never collides with bars, error bars or rotated tick labels.
    ax.legend(ncols=min(n_series, 4), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return all_values


def _line(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    series = {"": _seq(data, "y", "line")} if "series" not in data else _series(data, "line")
    x_raw = data.get("x")
    all_values: list[Any] = []
    for s, (name, values) in enumerate(series.items()):
        xs: list[float]
        if x_raw is None:
            xs = [float(i) for i in range(len(values))]
        else:
            xs = [_num(v, "line plot x") for v in x_raw]
            if len(xs) != len(values):
                raise PlotSpecError(
                    f"line plot: {len(xs)} x values but {len(values)} y values"
                    + (f" in series {name!r}" if name else "")
                )
        centre, lows, highs, has_bounds = _bounds(values, None, None, "line plot")
        color = PALETTE[s % len(PALETTE)]
        marker = "o" if len(xs) <= 30 else None
        ax.plot(
            xs,
            centre,
            label=name or None,
            color=color,
            marker=marker,
            markersize=3.5,
            linewidth=1.6,
            zorder=3,
        )
        if has_bounds:
            ax.fill_between(xs, lows, highs, color=color, alpha=0.18, linewidth=0, zorder=2)
        all_values.extend(values)
    if data.get("xscale") == "log":
        ax.set_xscale("log")
    if data.get("yscale") == "log":
        ax.set_yscale("log")
    ax.grid(zorder=0)
    if len(series) > 1 or next(iter(series)):
        ax.legend()
    return all_values


def _histogram(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    if "series" in data:
        series = _series(data, "histogram")
    else:
        series = {"": _seq(data, "values", "histogram")}
    bins = data.get("bins", 20)
    clean = {
        name: [x for x in (_num(v, "histogram") for v in values) if math.isfinite(x)]
        for name, values in series.items()
    }
    everything = [x for values in clean.values() for x in values]
    if not everything:
        raise PlotSpecError("histogram plot: no finite values")
    lo, hi = min(everything), max(everything)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    overlaid = len(clean) > 1
    for s, (name, values) in enumerate(clean.items()):
        color = PALETTE[s % len(PALETTE)]
        if overlaid:  # translucent fill plus a solid outline keeps each sample readable
            ax.hist(
                values,
                bins=bins,
                range=(lo, hi),
                histtype="stepfilled",
                color=color,
                alpha=0.3,
                zorder=2,
            )
            ax.hist(
                values,
                bins=bins,
                range=(lo, hi),
                histtype="step",
                color=color,
                linewidth=1.6,
                label=name or None,
                zorder=3,
            )
        else:
            ax.hist(
                values,
                bins=bins,
                range=(lo, hi),
                color=color,
                label=name or None,
                edgecolor="white",
                linewidth=0.5,
                zorder=2,
            )
    ax.grid(axis="y", zorder=0)
    if overlaid or next(iter(clean)):
        ax.legend()
    if not data.get("ylabel"):
        ax.set_ylabel("count")
    return []


def _heatmap(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    rows = [str(x) for x in _seq(data, "rows", "heatmap")]
    cols = [str(x) for x in _seq(data, "columns", "heatmap")]
    values = _seq(data, "values", "heatmap")
    if len(values) != len(rows) or any(len(v) != len(cols) for v in values):
        raise PlotSpecError(f"heatmap: values must be {len(rows)} rows of {len(cols)} values")
    grid = [[_num(v, "heatmap") for v in row] for row in values]
    flat = [v for row in values for v in row if v is not None]
    proportions = _all_proportions(flat)
    vmin = _num(data.get("vmin", 0.0 if proportions else min(map(min, grid))), "vmin")
    vmax = _num(data.get("vmax", 1.0 if proportions else max(map(max, grid))), "vmax")
    image = ax.imshow(grid, cmap="Reds", vmin=vmin, vmax=vmax, aspect="auto")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if math.isnan(v):
                continue
            text = f"{v:.0%}" if proportions else f"{v:.2g}"
            dark = (v - vmin) / ((vmax - vmin) or 1.0) > 0.6
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "#222222",
            )
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    for tick in ax.get_xticklabels():
        tick.set_rotation(40)
        tick.set_horizontalalignment("right")
    ax.spines[:].set_visible(False)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    if proportions:
        colorbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    return []


def _pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points that no other point beats on both axes (lower is better)."""
    keep = []
    for i, (x, y) in enumerate(points):
        beaten = any(
            (a <= x and b <= y) and (a < x or b < y) for k, (a, b) in enumerate(points) if k != i
        )
        if not beaten:
            keep.append(i)
    return sorted(keep, key=lambda i: points[i])


def _scatter(ax: Axes, data: Mapping[str, Any]) -> list[Any]:
    points = _seq(data, "points", "scatter")
    if not points or not all(isinstance(p, Mapping) for p in points):
        raise PlotSpecError("scatter plot needs a non-empty list of points (mappings)")
    xs, xlo, xhi, _ = _bounds([p.get("x") for p in points], None, None, "scatter x")
    ys, ylo, yhi, _ = _bounds([p.get("y") for p in points], None, None, "scatter y")
    for k, p in enumerate(points):
        ax.errorbar(
            xs[k],
            ys[k],
            xerr=[[max(0.0, xs[k] - xlo[k])], [max(0.0, xhi[k] - xs[k])]],
            yerr=[[max(0.0, ys[k] - ylo[k])], [max(0.0, yhi[k] - ys[k])]],
            fmt="o",
            color=PALETTE[k % len(PALETTE)],
            capsize=3,
            markersize=6,
            zorder=3,
            label=str(p.get("label", "")) or None,
        )
    if data.get("frontier") and len(points) > 1:
        front = _pareto(list(zip(xs, ys, strict=True)))
        ax.plot(
            [xs[i] for i in front],
            [ys[i] for i in front],
            color="#555555",
            linestyle="--",
            linewidth=1.0,
            zorder=2,
        )
    ax.grid(zorder=0)
    if any(p.get("label") for p in points):
        ax.legend(loc="best", fontsize=8)
    if _all_proportions([p.get("x") for p in points]):
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_xlim(-0.02, 1.02)
    if _all_proportions([p.get("y") for p in points]):
        ax.set_ylim(-0.02, 1.02)
    return [p.get("y") for p in points]


_DRAW = {
    "bar": _bar,
    "grouped_bar": _grouped_bar,
    "line": _line,
    "histogram": _histogram,
    "heatmap": _heatmap,
    "scatter": _scatter,
}


def _labels_long(labels: Sequence[str]) -> bool:
    """Whether horizontal tick labels would collide (about 64 characters fit across)."""
    longest = max((len(label) for label in labels), default=0)
    return longest * len(labels) > 64 or longest > 24


def _rotate_if_long(ax: Axes, labels: Sequence[str]) -> None:
    if _labels_long(labels):
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")


# --------------------------------------------------------------------------- SVG


_SVG_START = re.compile(r"<svg\b[^>]*>", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_REF = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _inline_svg(svg: str, id_prefix: str) -> str:
    """Make a standalone SVG document embeddable in HTML.

    Drops the XML prolog and doctype, makes the root scale with its container, and
    prefixes every element id and id reference so that several SVGs on one page never
    share an id (a clip-path reference would otherwise resolve to another figure's
    element).
    """
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("matplotlib produced no <svg> element")
    svg = _METADATA.sub("", svg[start:])
    if id_prefix:
        svg = _ID_REF.sub(lambda m: f"{m.group(1)}{id_prefix}-{m.group(2)}", svg)

    def _root(match: re.Match[str]) -> str:
        tag = re.sub(r'\s(width|height)="[^"]*"', "", match.group(0))
        return tag.replace("<svg", '<svg class="plot" role="img"', 1)

    return _SVG_START.sub(_root, svg, count=1).strip()


def plot_svg(spec: Mapping[str, Any], *, id_prefix: str = "plot") -> str:
    """Draw one plot spec and return an ``<svg>`` element to inline in HTML.

    Raises :class:`PlotSpecError` when the spec is malformed. ``id_prefix`` must differ
    between plots on the same page.
    """
    kind = spec.get("kind")
    if kind not in _DRAW:
        raise PlotSpecError(f"unknown plot kind {kind!r}; expected one of {', '.join(PLOT_KINDS)}")
    data = spec.get("data")
    if not isinstance(data, Mapping):
        raise PlotSpecError(f"{kind} plot needs a 'data' mapping")
    with matplotlib.rc_context(_RC):
        size = data.get("figsize") or (7.2, 3.9)
        fig = Figure(
            figsize=(_num(size[0], "figsize"), _num(size[1], "figsize")), layout="constrained"
        )
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        values = _DRAW[kind](ax, data)
        percent = data.get("percent")
        if percent is None:
            percent = _all_proportions(values)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        if "reference" in data:
            ax.axhline(
                _num(data["reference"], "reference"),
                color="#555555",
                linewidth=0.9,
                linestyle="--",
                zorder=1,
            )
        ylim = data.get("ylim")
        if ylim is not None:
            if not isinstance(ylim, Sequence) or len(ylim) != 2:
                raise PlotSpecError("'ylim' must be [low, high]")
            ax.set_ylim(_num(ylim[0], "ylim"), _num(ylim[1], "ylim"))
        elif percent and kind in ("bar", "grouped_bar"):
            ax.set_ylim(0.0, min(1.0, ax.get_ylim()[1]))
        if data.get("xlabel"):
            ax.set_xlabel(str(data["xlabel"]))
        if data.get("ylabel"):
            ax.set_ylabel(str(data["ylabel"]))
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _inline_svg(buffer.getvalue(), id_prefix)
