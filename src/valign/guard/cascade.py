"""The cascade: the fast classifier decides confident cases, the LLM guard the uncertain band.

Most traffic is clearly safe or clearly unsafe, and the fast classifier answers it in a few
milliseconds. Inputs whose fast score falls in ``[low, high)`` are escalated to the slower
LLM guard, whose verdict replaces the fast one. Each verdict's ``detail`` records whether
it was escalated and the fast score, so the escalation rate can be watched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from valign.guard.types import GuardBackend, GuardInput, GuardVerdict, register_backend
from valign.models import ChatModel


class CascadeGuard:
    """Two backends in series: ``fast`` first, ``slow`` for scores in ``[low, high)``."""

    name = "cascade"

    def __init__(
        self, fast: GuardBackend, slow: GuardBackend, low: float = 0.2, high: float = 0.9
    ) -> None:
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={low}, high={high}")
        self.fast, self.slow, self.low, self.high = fast, slow, low, high
        self.categories = list(fast.categories)

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        verdicts = self.fast.classify(inputs)
        band = [k for k, v in enumerate(verdicts) if self.low <= v.score < self.high]
        out = [
            replace(v, backend=self.name, detail={**v.detail, "escalated": False, "by": v.backend})
            for v in verdicts
        ]
        if band:
            slow = self.slow.classify([inputs[k] for k in band])
            for k, v in zip(band, slow, strict=True):
                cats = {c: v.categories.get(c, 0.0) for c in self.categories}
                detail = {
                    **v.detail,
                    "escalated": True,
                    "by": v.backend,
                    "fast_score": verdicts[k].score,
                }
                out[k] = replace(v, categories=cats, backend=self.name, detail=detail)
        return out


@register_backend(
    "cascade", needs_model=True, help="Fast classifier, LLM guard for the uncertain band."
)
def cascade_backend(
    model: ChatModel,
    fast: str | Path | GuardBackend | None = None,
    low: float = 0.2,
    high: float = 0.9,
    **kw: Any,
) -> CascadeGuard:
    """The default guard (or ``fast``) in front of the LLM guard over ``model``."""
    from valign.guard.llm import llm_backend
    from valign.guard.types import get_backend

    first = fast if isinstance(fast, GuardBackend) else get_backend(fast)
    return CascadeGuard(first, llm_backend(model, **kw), low, high)
