"""Harmful content per taxonomy category, judged by the guard.

The same classifier that guards the model's inputs and outputs (:mod:`valign.guard`)
screens the corpus, so "harmful" means one thing across the lifecycle: the constitution's
taxonomy. A dialogue is judged as the guard judges a model reply — its last assistant turn
in the context of the turns before — so a refused harmful request is not flagged, while a
complied one is; a prose document is judged as a prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from valign.data.shards import Doc
from valign.guard.types import GuardBackend, GuardInput


def guard_input(doc: Doc) -> GuardInput:
    messages = doc.record.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        if last.get("role") == "assistant" and len(messages) > 1:
            prompt = "\n".join(
                str(m.get("content", "")) for m in messages[:-1] if isinstance(m, dict)
            )
            return GuardInput(prompt, str(last.get("content", "")))
    return GuardInput(doc.text)


def screen(guard: GuardBackend, docs: Sequence[Doc], floor: float = 0.05) -> list[dict[str, Any]]:
    """One verdict per document: unsafe score, whether flagged, and each category's score at
    or above ``floor`` (lower ones are dropped to keep the per-document record small)."""
    verdicts = guard.classify([guard_input(d) for d in docs])
    return [
        {
            "unsafe": round(v.score, 4),
            "flagged": v.flagged,
            "flagged_categories": list(v.flagged_categories),
            "categories": {c: round(p, 4) for c, p in v.categories.items() if p >= floor},
        }
        for v in verdicts
    ]
