"""Settings of the rating server and of a project (pydantic, with help text)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["pairwise", "rating", "demonstration", "redteam"]
KINDS: tuple[str, ...] = ("pairwise", "rating", "demonstration", "redteam")


class ServerSettings(BaseModel):
    """Limits and options of ``valign feedback serve``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(
        256_000, gt=0, description="Largest request body accepted (413 above)."
    )
    max_upload_bytes: int = Field(
        20_000_000, gt=0, description="Largest JSONL upload on the admin import form."
    )
    max_text_chars: int = Field(
        20_000, gt=0, description="Longest text field (rationale, response, notes) accepted."
    )
    session_hours: float = Field(12.0, gt=0, description="How long a login lasts.")
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (set this when serving behind HTTPS)."
    )
    lease_minutes: float = Field(
        30.0,
        gt=0,
        description="An item handed to a rater who does not judge it goes back to the pool "
        "after this long.",
    )
    seed: int | None = Field(
        None, description="Seed of left/right order and assistance draws (None: random)."
    )


class ProjectSettings(BaseModel):
    """One project: a queue of items of one task kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Short unique name (letters, digits, '_', '-', '.').",
    )
    kind: Kind = Field(
        "pairwise",
        description="pairwise (A/B/tie), rating (Likert), demonstration (write or edit a "
        "better response) or redteam (log attempts to make the model misbehave).",
    )
    instructions: str = Field("", max_length=20_000, description="Shown to raters above each task.")
    overlap: int = Field(3, ge=1, le=50, description="Raters per item (for agreement).")
    gold_every: int = Field(5, ge=0, description="A gold question after every N items (0: never).")
    assist_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of assignments that show the AI critique (drawn at random, so "
        "its effect on accuracy and speed is measured).",
    )
    likert_points: int = Field(7, ge=2, le=11, description="Points of the rating scale.")
    principles: list[str] = Field(
        default_factory=list, description="Constitution principle ids raters may tag."
    )
    categories: list[str] = Field(
        default_factory=list, description="Harm categories a red-team attempt may be marked with."
    )
