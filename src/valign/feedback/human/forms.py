"""Validating what a rater posts: every mistake is a FormError with a message and a status.

Choices arrive in screen terms (``left``/``right``/``tie``) and are turned into item terms
(A/B) with the assignment's ``swapped`` flag, so stored judgments never depend on the order
in which the replies were shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from valign.feedback.human.tables import Project

MAX_SECONDS = 3600.0


class FormError(Exception):
    """A bad form: shown to the rater with this HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class JudgmentIn:
    """A validated judgment, in item terms."""

    choice: str | None = None
    strength: int | None = None
    rating: int | None = None
    text: str | None = None
    rationale: str = ""
    principles: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class AttemptIn:
    """A validated red-team attempt."""

    nonce: str
    prompt: str
    response: str
    harmful: bool
    category: str | None
    severity: int | None
    notes: str
    item_id: int | None


def text_field(form: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(f"'{name}' must be text")
    if len(value) > limit:
        raise FormError(f"'{name}' is {len(value)} characters; at most {limit}", 413)
    if required and not value.strip():
        raise FormError(f"'{name}' is required")
    return value


def int_field(
    form: Mapping[str, Any], name: str, lo: int, hi: int, required: bool = False
) -> int | None:
    raw = form.get(name)
    if raw in (None, ""):
        if required:
            raise FormError(f"'{name}' is required")
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise FormError(f"'{name}' must be a whole number") from None
    if not lo <= value <= hi:
        raise FormError(f"'{name}' must be between {lo} and {hi}")
    return value


def _seconds(form: Mapping[str, Any]) -> float | None:
    try:
        shown = float(str(form.get("shown", "")))
    except ValueError:
        return None
    if not math.isfinite(shown):
        return None
    return min(max(time.time() - shown, 0.0), MAX_SECONDS)


def _tags(values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise FormError(f"unknown principle(s): {', '.join(unknown)}")
    return sorted(set(values))


def parse_judgment(
    form: Mapping[str, Any], tags: Sequence[str], project: Project, swapped: bool, limit: int
) -> JudgmentIn:
    """The judgment in ``form`` for an item of ``project``."""
    out = JudgmentIn(
        rationale=text_field(form, "rationale", limit),
        principles=_tags(tags, project.principles),
        seconds=_seconds(form),
    )
    if project.kind == "pairwise":
        shown = form.get("choice")
        if shown not in ("left", "right", "tie"):
            raise FormError("choose the left reply, the right reply or a tie")
        if shown == "tie":
            out.choice = "tie"
        else:
            out.choice = "A" if (shown == "left") != swapped else "B"
            out.strength = int_field(form, "strength", 1, 3)
    elif project.kind == "rating":
        out.rating = int_field(form, "rating", 1, project.likert_points, required=True)
    elif project.kind == "demonstration":
        out.text = text_field(form, "text", limit, required=True)
    else:
        raise FormError("red-team projects log attempts, not judgments", 404)
    return out


def parse_attempt(form: Mapping[str, Any], project: Project, limit: int) -> AttemptIn:
    nonce = text_field(form, "nonce", 64, required=True)
    category = form.get("category") or None
    if category is not None and category not in project.categories:
        raise FormError(f"unknown category {category!r}")
    item = int_field(form, "item", 1, 2**31 - 1)
    return AttemptIn(
        nonce=nonce,
        prompt=text_field(form, "prompt", limit, required=True),
        response=text_field(form, "response", limit),
        harmful=form.get("harmful") in ("yes", "on", "1", "true"),
        category=category,
        severity=int_field(form, "severity", 1, 3),
        notes=text_field(form, "notes", limit),
        item_id=item,
    )
