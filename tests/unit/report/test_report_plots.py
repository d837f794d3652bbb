"""Plot specs to inline SVG."""

from __future__ import annotations

import json
import re

import pytest

from valign.report import (
    PlotSpecError,
    bar_plot,
    grouped_bar_plot,
    histogram_plot,
    line_plot,
    plot_svg,
    section,
    table,
)
from valign.stats import proportion

EST = [proportion(6, 10).to_dict(), proportion(2, 10).to_dict()]

SPECS = {
    "bar": {"kind": "bar", "data": {"labels": ["a", "b"], "values": EST}},
    "bar_plain": {
        "kind": "bar",
        "data": {"labels": ["a", "b"], "values": [1.0, 2.0], "low": [0.5, 1.5], "high": [1.5, 2.5]},
    },
    "grouped_bar": {
        "kind": "grouped_bar",
        "data": {"groups": ["x", "y"], "series": {"before": EST, "after": [0.1, 0.05]}},
    },
    "line": {"kind": "line", "data": {"x": [1, 2], "series": {"train": EST, "val": [0.5, 0.4]}}},
    "line_y": {"kind": "line", "data": {"y": [3, 2, 1], "yscale": "log"}},
    "histogram": {"kind": "histogram", "data": {"values": [0.1, 0.2, 0.2, 0.9], "bins": 5}},
    "histogram_series": {
        "kind": "histogram",
        "data": {"series": {"a": [1, 2, 2], "b": [2, 3, 3]}, "bins": 4},
    },
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_kind_draws_inline_svg(name: str) -> None:
    svg = plot_svg(SPECS[name], id_prefix=f"t-{name}")
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    root = svg[: svg.index(">")]
    assert "viewBox" in root and " width=" not in root and " height=" not in root
    assert "<?xml" not in svg and "DOCTYPE" not in svg
    assert all(i.startswith(f"t-{name}-") for i in re.findall(r'\bid="([^"]+)"', svg))


def test_labels_are_escaped_and_literal() -> None:
    svg = plot_svg({"kind": "bar", "data": {"labels": ["<b>x</b>", "$5 & $6"], "values": [1, 2]}})
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "$5 &amp; $6" in svg  # not parsed as TeX


def test_output_is_deterministic() -> None:
    assert plot_svg(SPECS["bar"]) == plot_svg(SPECS["bar"])


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "pie", "data": {}},
        {"kind": "bar"},
        {"kind": "bar", "data": {"labels": ["a"], "values": [1, 2]}},
        {"kind": "bar", "data": {"labels": ["a"], "values": ["high"]}},
        {"kind": "bar", "data": {"labels": ["a"], "values": [1], "low": [0]}},
        {"kind": "grouped_bar", "data": {"groups": ["a"], "series": {"s": [1, 2]}}},
        {"kind": "line", "data": {"x": [1, 2, 3], "series": {"s": [1, 2]}}},
        {"kind": "histogram", "data": {"values": []}},
    ],
)
def test_bad_specs_raise(spec: dict) -> None:
    with pytest.raises(PlotSpecError):
        plot_svg(spec)


def test_builders_produce_plain_json_that_draws() -> None:
    rate = proportion(3, 4)
    specs = [
        bar_plot("b", ["x"], [rate], reference=0.5),
        grouped_bar_plot("g", ["x"], {"before": [rate], "after": [0.2]}, ylim=(0, 1)),
        line_plot("l", [0, 1], {"s": [1.0, 0.5]}, xlabel="step"),
        histogram_plot("h", [1.0, 2.0, 2.5]),
    ]
    report = section("S", tables=[table("T", ["k", "v"], [["r", rate]])], plots=specs)
    decoded = json.loads(json.dumps(report))  # no Estimate objects left
    assert decoded["tables"][0]["rows"][0][1]["kind"] == "proportion"
    for spec in decoded["plots"]:
        assert plot_svg(spec).startswith("<svg")
