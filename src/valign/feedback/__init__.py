"""valign.feedback: what people say about replies, and how far to trust a judge.

- :mod:`~valign.feedback.human`  the human rating app, its store and its exports
- :func:`agreement`             a judge's accuracy, Cohen's kappa and calibration against
                                held-out labels, per principle
The comparison file format is :mod:`valign.records.comparisons`; the judges themselves
(the LLM judge, the trained evaluator) are Constitutional AI's, in :mod:`valign.cai`.
See ``docs/feedback.md`` (the rating app) and ``docs/cai.md`` (a judge's agreement).
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.feedback.agreement import agreement, calibration

__all__ = [
    "agreement",
    "calibration",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "agreement": ["agreement", "calibration"],
        },
    )
