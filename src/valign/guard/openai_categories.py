"""OpenAI's moderation categories, reported from the constitution's taxonomy.

Clients of OpenAI's moderation API expect its category names (``harassment``, ``illicit``,
``self-harm/instructions``…). The guard scores the constitution's own categories, so the
mapping between the two is data in the constitution: each category lists the OpenAI
categories it covers in ``openai_moderation`` (see ``constitutions/default.yaml``).

An OpenAI category's score is the highest score among the taxonomy categories mapped to it,
and it is flagged when any of them is among the verdict's flagged categories; an OpenAI
category that nothing maps to is reported with score 0.0 and never flagged. A taxonomy
category with no OpenAI counterpart (privacy, misinformation…) appears only in valign's own
fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from valign.guard.types import GuardVerdict
from valign.values.schema import OPENAI_MODERATION_CATEGORIES

CategoryMap = Mapping[str, Sequence[str]]
"""Taxonomy category id -> the OpenAI moderation categories it covers."""


def category_map(constitution: Any) -> dict[str, tuple[str, ...]]:
    """The mapping a constitution declares (categories without one are left out)."""
    return {
        c.id: tuple(c.openai_moderation) for c in constitution.categories if c.openai_moderation
    }


def load_category_map(constitution: str | None = None) -> dict[str, tuple[str, ...]]:
    """The mapping of a constitution by name or path (``default`` when None)."""
    from valign.values import load_constitution

    return category_map(load_constitution(constitution or "default"))


def openai_fields(verdict: GuardVerdict, mapping: CategoryMap) -> dict[str, Any]:
    """``categories``, ``category_scores`` and ``category_applied_input_types`` of a result."""
    scores = dict.fromkeys(OPENAI_MODERATION_CATEGORIES, 0.0)
    flagged = dict.fromkeys(OPENAI_MODERATION_CATEGORIES, False)
    hits = set(verdict.flagged_categories)
    for category, score in verdict.categories.items():
        for name in mapping.get(category, ()):
            scores[name] = max(scores[name], float(score))
            flagged[name] = flagged[name] or category in hits
    return {
        "categories": flagged,
        "category_scores": scores,
        # Only text is accepted, so text is the only input type any score was applied to.
        "category_applied_input_types": {name: ["text"] for name in OPENAI_MODERATION_CATEGORIES},
    }
