"""Run records and the HTML report.

Every stage writes the same record format into its folder of a run (see
:mod:`valign.records.runs`): a ``manifest.json``, append-only JSONL records, and an
atomic ``DONE.json`` marker with a summary. :func:`render_report` turns a run folder into
one self-contained ``report.html``; stages contribute sections through the ``"report"``
entry of their summary, built with the helpers in :mod:`valign.report.sections`.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.report.html import format_estimate, format_value, render_report
    from valign.report.plots import PlotSpecError, plot_svg
    from valign.report.sections import (
        bar_plot,
        grouped_bar_plot,
        histogram_plot,
        line_plot,
        samples,
        section,
        table,
    )

__all__ = [
    "PlotSpecError",
    "bar_plot",
    "format_estimate",
    "format_value",
    "grouped_bar_plot",
    "histogram_plot",
    "line_plot",
    "plot_svg",
    "render_report",
    "samples",
    "section",
    "table",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "html": ["format_estimate", "format_value", "render_report"],
            "plots": ["PlotSpecError", "plot_svg"],
            "sections": [
                "bar_plot",
                "grouped_bar_plot",
                "histogram_plot",
                "line_plot",
                "samples",
                "section",
                "table",
            ],
        },
    )
