"""The HTML report: sections from stage summaries, inline plots, escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.records.runs import RunDir, manifest
from valign.report import (
    bar_plot,
    format_estimate,
    format_value,
    line_plot,
    render_report,
    samples,
    section,
    table,
)
from valign.report.html import markdownish
from valign.stats import proportion

SCRIPT = "<script>alert('pwned')</script>"


def _fake_run(root: Path) -> RunDir:
    run = RunDir(root)
    # A finished evaluation stage with a table, a bar plot, a line plot and samples.
    m = manifest("evals", {"tasks": ["truthful"]}, seed=3)
    run.write_manifest("evals", m)
    with run.writer("evals") as out:
        out.write({"id": 1, "response": f"Sure! {SCRIPT}", "outcome": "complied"})
        out.write({"id": 2, "response": "I can't help with that.", "outcome": "refused"})
    rate = proportion(5, 8)  # 62.5% [30.6, 86.3]
    report = section(
        "Evaluation <scorecard>",
        order=50,
        text="Refusals **rose**.\n\n- item one\n- item <two>",
        tables=[
            table("Scorecard", ["metric", "value", "items"], [["refusal", rate, 8]]),
            table("Raw", ["response"], [[SCRIPT]]),
        ],
        plots=[
            bar_plot("Refusal", ["harmful", "benign"], [rate, proportion(1, 8)]),
            line_plot("Loss", [0, 1, 2], {"train": [3.0, 2.0, 1.5]}, xlabel="step"),
        ],
        samples=[samples("Complied", columns=["id", "response"], where={"outcome": "complied"})],
    )
    run.mark_done("evals", m, {"refusal": rate, "report": report})
    # A finished stage without a report section: its scalars become a table.
    run.mark_done("pretrain", manifest("pretrain", {}, seed=0), {"final_loss": 1.25})
    # A stage that started and crashed.
    run.write_manifest("guard", manifest("guard", {}, seed=None))
    return run


def test_render_report_contents(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run")
    path = render_report(run.root)
    assert path == run.root / "report.html"
    html = path.read_text(encoding="utf-8")

    assert "62.5% [30.6, 86.3]" in html  # estimate with its Wilson interval
    assert 'title="n = 8"' in html
    assert html.count("<svg") == 2
    assert "Evaluation &lt;scorecard&gt;" in html
    assert "<strong>rose</strong>" in html and "item &lt;two&gt;" in html
    assert "1.25" in html  # fallback summary table of the plain stage
    assert "incomplete" in html  # the crashed stage is listed
    assert "<details>" in html and "config_hash" in html  # manifest per stage

    # Model output from the records and the tables is escaped, never live.
    assert "&lt;script&gt;alert(" in html
    assert "<script" not in html.lower()


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = render_report(_fake_run(tmp_path / "run").root).read_text()
    assert "<link" not in html
    assert not re.search(r"\ssrc=", html)
    assert "@import" not in html
    # Only XML namespace URIs may appear, never fetched resources.
    urls = set(re.findall(r"https?://[^\s\"')]+", html))
    assert all(
        u.startswith(("http://www.w3.org/", "http://purl.org/", "http://creativecommons.org/"))
        for u in urls
    ), urls


def test_svg_ids_are_unique_across_plots(tmp_path: Path) -> None:
    html = render_report(_fake_run(tmp_path / "run").root).read_text()
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_sections_are_ordered(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for name, order in [("zeta", 1), ("alpha", 2)]:
        run.mark_done(name, {}, {"report": section(f"Section {name}", order=order)})
    html = render_report(tmp_path, tmp_path / "out" / "r.html").read_text()
    assert html.index("Section zeta") < html.index("Section alpha")


def test_bad_plot_spec_is_reported_not_fatal(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    spec = section("S", plots=[{"title": "broken", "kind": "pie", "data": {}}])
    run.mark_done("s", {}, {"report": spec})
    html = render_report(tmp_path).read_text()
    assert "Plot not drawn" in html and "unknown plot kind" in html


def test_missing_run_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        render_report(tmp_path / "nope")


def test_empty_run_dir(tmp_path: Path) -> None:
    assert "no stages yet" in render_report(tmp_path).read_text()


def test_format_values() -> None:
    assert format_estimate({"value": 0.625, "low": 0.551, "high": 0.694, "kind": "proportion"}) == (
        "62.5% [55.1, 69.4]"
    )
    assert format_estimate({"value": 0.4123, "low": 0.38, "high": 0.445}) == (
        "0.412 [0.380, 0.445]"
    )
    assert format_value(1234567) == "1,234,567"
    assert format_value(0.25, percent=True) == "25.0%"
    assert format_value(True) == "yes"
    assert format_value(None) == "—"
    assert format_value(float("nan")) == "n/a"
    assert format_value([1, 2]) == "[1, 2]"


def test_markdownish_escapes_first() -> None:
    html = str(markdownish(f"**bold** {SCRIPT} `x<y`"))
    assert "<strong>bold</strong>" in html
    assert "<code>x&lt;y</code>" in html
    assert "<script" not in html


def test_malformed_tables_and_samples_are_reported(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    spec = {
        "title": "S",
        "tables": ["not a table"],
        "plots": ["not a plot"],
        "samples": [{"title": "escape", "file": "../../etc/passwd"}, {"where": "x"}],
    }
    run.mark_done("s", {}, {"report": spec})
    html = render_report(tmp_path).read_text()
    assert html.count('class="problem"') == 4
    assert "outside the stage folder" in html
