"""valign.feedback: what people say about replies, and how far to trust a judge.

- :mod:`~valign.feedback.human`  the human rating app, its store and its exports
- :func:`agreement`             a judge's accuracy, Cohen's kappa and calibration against
                                held-out labels, per principle
The comparison file format is :mod:`valign.records.comparisons`; the judges themselves
(the LLM judge, the trained evaluator) are Constitutional AI's, in :mod:`valign.cai`.
See ``docs/feedback.md`` (the rating app) and ``docs/cai.md`` (a judge's agreement).
"""

from importlib import import_module
from typing import Any

# Loaded on first use: importing the rating app loads nothing else of the package.
_WHERE = {
    "agreement": "agreement",
    "calibration": "agreement",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'valign.feedback' has no attribute {name!r}")
    return getattr(import_module(f"valign.feedback.{_WHERE[name]}"), name)
