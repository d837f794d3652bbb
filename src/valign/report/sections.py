"""Builders for the ``"report"`` entry a stage puts in its ``DONE.json`` summary.

The renderer reads plain JSON; these helpers only make the shapes hard to get wrong and
turn :class:`~valign.stats.Estimate` objects into dicts::

    summary = {
        "refusal_rate": rate.to_dict(),
        "report": section(
            "Guard", order=60,
            text="Harmful requests blocked; **over-refusal** stays low.",
            tables=[table("Rates", ["set", "refusal"], [["harmful", rate]])],
            plots=[bar_plot("Refusal rate", ["harmful", "benign"], [rate, benign_rate])],
        ),
    }
    run.mark_done("guard", manifest, summary)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from valign.records.runs import to_jsonable

__all__ = [
    "bar_plot",
    "grouped_bar_plot",
    "histogram_plot",
    "line_plot",
    "samples",
    "section",
    "table",
]


def _plain(value: Any) -> Any:
    """Estimates (anything with ``to_dict``) to dicts, recursively through lists and dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return _plain(to_jsonable(value))


def _options(**options: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in options.items() if v is not None}


def section(
    title: str,
    *,
    order: int = 1000,
    text: str | None = None,
    tables: Iterable[Mapping[str, Any]] = (),
    plots: Iterable[Mapping[str, Any]] = (),
    samples: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A stage's report section; sections are sorted by ``order``, then stage name."""
    out: dict[str, Any] = {"title": title, "order": order}
    if text:
        out["text"] = text
    out["tables"] = [dict(t) for t in tables]
    out["plots"] = [dict(p) for p in plots]
    out["samples"] = [dict(s) for s in samples]
    return out


def table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    percent: Sequence[str] = (),
    note: str | None = None,
) -> dict[str, Any]:
    """A table; cells may be numbers, strings, booleans or estimates. ``percent`` lists
    columns whose plain numbers are rates to show as percentages."""
    return {
        "title": title,
        "columns": list(columns),
        "rows": [_plain(dict(r) if isinstance(r, Mapping) else list(r)) for r in rows],
        **_options(percent=list(percent) or None, note=note),
    }


def bar_plot(
    title: str,
    labels: Sequence[str],
    values: Sequence[Any],
    *,
    ylabel: str | None = None,
    percent: bool | None = None,
    reference: float | None = None,
    ylim: tuple[float, float] | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    """Bars with error bars where values are estimates."""
    data = {"labels": list(labels), "values": _plain(list(values))}
    data |= _options(ylabel=ylabel, percent=percent, reference=reference, ylim=ylim)
    return {"title": title, "kind": "bar", "data": data, **_options(caption=caption)}


def grouped_bar_plot(
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    *,
    ylabel: str | None = None,
    percent: bool | None = None,
    reference: float | None = None,
    ylim: tuple[float, float] | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    """One bar per series within each group, e.g. ``{"before": [...], "after": [...]}``."""
    data = {"groups": list(groups), "series": _plain(dict(series))}
    data |= _options(ylabel=ylabel, percent=percent, reference=reference, ylim=ylim)
    return {"title": title, "kind": "grouped_bar", "data": data, **_options(caption=caption)}


def line_plot(
    title: str,
    x: Sequence[float],
    series: Mapping[str, Sequence[Any]],
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    percent: bool | None = None,
    xscale: str | None = None,
    yscale: str | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    """Curves over ``x`` (training steps, thresholds); estimate values draw a band."""
    data = {"x": list(x), "series": _plain(dict(series))}
    data |= _options(xlabel=xlabel, ylabel=ylabel, percent=percent, xscale=xscale, yscale=yscale)
    return {"title": title, "kind": "line", "data": data, **_options(caption=caption)}


def histogram_plot(
    title: str,
    series: Mapping[str, Sequence[float]] | Sequence[float],
    *,
    bins: int = 20,
    xlabel: str | None = None,
    ylabel: str | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    """A histogram of one sample, or several overlaid (a mapping of name to values)."""
    data: dict[str, Any] = {"bins": bins}
    if isinstance(series, Mapping):
        data["series"] = _plain(dict(series))
    else:
        data["values"] = _plain(list(series))
    data |= _options(xlabel=xlabel, ylabel=ylabel)
    return {"title": title, "kind": "histogram", "data": data, **_options(caption=caption)}


def samples(
    title: str,
    *,
    file: str = "records.jsonl",
    columns: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
    limit: int = 10,
    note: str | None = None,
) -> dict[str, Any]:
    """Example records from the stage's own JSONL file, filtered by equality on ``where``."""
    return {
        "title": title,
        "file": file,
        "columns": list(columns),
        "limit": limit,
        **_options(where=dict(where) if where else None, note=note),
    }
