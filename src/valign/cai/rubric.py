"""Which principles judge a comparison: the constitution's taxonomy decides.

A request in a harm category is judged by the principles that cover that category; a safe
request (no category, or a borderline-safe one) by the general helpfulness principle. The
same mapping labels the evaluator's seed set and limits the principles the LLM judge may
draw for a comparison, so changing the constitution changes the rubric.

Labels gathered under one constitution do not carry over to a category that an overlay
has since removed or rewritten: :func:`changed_categories` reads the composed
constitution's provenance, and :func:`seed_rubric` drops such comparisons, leaving the
overlay's own labelled examples to teach the evaluator the new rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from valign.records.comparisons import Comparison
from valign.values import Constitution

#: Microworld item kinds whose request is safe: helpfulness is the question, not harm.
SAFE_KINDS = ("benign", "borderline")
HELPFUL_PRINCIPLE = "be_helpful"


def general_principles(constitution: Constitution) -> tuple[str, ...]:
    """The helpfulness principle if the constitution has it, else every general principle."""
    if HELPFUL_PRINCIPLE in constitution.principle_ids:
        return (HELPFUL_PRINCIPLE,)
    general = tuple(p.id for p in constitution.principles if not p.categories)
    return general or tuple(constitution.principle_ids)


def principles_for(
    constitution: Constitution, category: str | None, kind: str | None = None
) -> tuple[str, ...]:
    """The principles that judge a request of this category (and microworld kind).

    Empty when the category is not in the taxonomy: the constitution has no rule for it.
    """
    if category is None or kind in SAFE_KINDS:
        return general_principles(constitution)
    if category not in constitution.category_ids:
        return ()
    covering = tuple(p.id for p in constitution.principles_for(category))
    return covering or general_principles(constitution)


def changed_categories(constitution: Constitution) -> set[str]:
    """Categories an overlay removed or rewrote, or that an overlay's principle now covers."""
    composed = constitution.provenance.get("composed") or {}
    changed = set((composed.get("categories") or {}).keys())
    for principle_id in composed.get("principles") or {}:
        if principle_id in constitution.principle_ids:
            changed |= set(constitution.principle(principle_id).categories)
    return changed


def seed_rubric(
    rows: Iterable[Comparison], constitution: Constitution
) -> list[tuple[Comparison, tuple[str, ...]]]:
    """Each labelled comparison with the principles that judge it, under this constitution.

    Comparisons in a category the constitution no longer has, or that an overlay changed,
    are dropped: their labels were given under another rule.
    """
    changed = changed_categories(constitution)
    out = []
    for row in rows:
        if row.category is not None and row.category in changed:
            continue
        ids = principles_for(constitution, row.category, row.kind)
        if ids:
            out.append((row, ids))
    return out
