"""Settings of the rating server and of a project (pydantic, with help text)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["pairwise", "rating", "demonstration", "redteam"]
KINDS: tuple[str, ...] = ("pairwise", "rating", "demonstration", "redteam")
PROJECT_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


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
    lockout_after: int = Field(
        5, ge=1, le=1000, description="Failed logins of one account that lock it (429)."
    )
    lockout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long the first lock lasts; each further failure doubles it.",
    )
    lockout_max_seconds: float = Field(3600.0, gt=0, description="The longest lock.")
    lockout_forget_hours: float = Field(
        24.0, gt=0, description="A count with no failure for this long starts again from zero."
    )
    address_lockout_after: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Failed logins from one client address that lock it (counted only "
        "with forwarded_allow_ips).",
    )
    forwarded_allow_ips: tuple[str, ...] = Field(
        (),
        description="Proxies (addresses or networks, or '*') trusted to name the client in "
        "X-Forwarded-For. Empty (the default): the header is ignored and failed logins are "
        "counted per account only.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"not an address or network: {entry!r}") from None
        return value


class ProjectSettings(BaseModel):
    """One project: a queue of items of one task kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=rf"^{PROJECT_NAME}$",
        description="Short unique name (letters, digits, '_', '-', '.').",
    )
    kind: Kind = Field(
        "pairwise",
        description="pairwise (A/B/tie), rating (Likert), demonstration (write or edit a "
        "better response) or redteam (log attempts to make the model misbehave).",
    )
    instructions: str = Field("", max_length=20_000, description="Shown to raters above each task.")
    overlap: int = Field(3, ge=1, le=50, description="Raters per item (for agreement).")
    gold_every: int = Field(
        5, ge=0, le=10_000, description="A gold question after every N items (0: never)."
    )
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
