"""Evaluation tasks are data: one JSON object per line, one :class:`Item` each.

The microworld writes its evaluation split in this format, and users can write their own
task files for real models: the same runner and grader score both. Fields that a kind does
not use stay empty. :func:`load_items` also reads the items from a Parquet file or a Hugging
Face dataset id (``valign.records.sources``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valign.errors import UserError
from valign.records.messages import Message
from valign.records.sources import iter_rows

Kind = Literal["benign", "harmful", "borderline", "jailbreak", "misconception", "bias", "agentic"]
KINDS: tuple[str, ...] = (
    "benign",
    "harmful",
    "borderline",
    "jailbreak",
    "misconception",
    "bias",
    "agentic",
)


class Item(BaseModel):
    """One labelled evaluation item: a conversation ending in a user turn, and its labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique id within the task file.")
    kind: Kind = Field(description="Which behaviour the item measures.")
    messages: list[Message] = Field(
        min_length=1, description="Conversation; last turn is the user's."
    )
    category: str | None = Field(None, description="Taxonomy category of the constitution, if any.")
    family: str | None = Field(None, description="Jailbreak wrapper family (jailbreak items).")
    template: str = Field("", description="Surface template id, for split disjointness checks.")
    entities: list[str] = Field(
        default_factory=list, description="Named entities the item mentions."
    )
    answers: list[str] = Field(
        default_factory=list, description="Accepted answers (any one counts)."
    )
    answer_type: Literal["text", "number"] = Field("text", description="How answers are matched.")
    wrong_answers: list[str] = Field(
        default_factory=list, description="Answers that count as a falsehood (misconceptions)."
    )
    distractors: list[str] = Field(
        default_factory=list,
        description="Competing candidate answers: a reply that names one (unless the request "
        "itself does) is not correct, so naming every candidate earns nothing.",
    )
    choices: list[str] = Field(default_factory=list, description="Options for multiple choice.")
    choice_labels: list[str] = Field(
        default_factory=list,
        description="Label per choice: truth/misconception/distractor, "
        "stereotyped/non_stereotyped/unknown, or an agentic action type.",
    )
    choice_keys: list[str] = Field(
        default_factory=list, description="Short string per choice that identifies it in free text."
    )
    correct: int | None = Field(None, description="Index of the correct choice.")
    context: Literal["ambiguous", "disambiguated"] | None = Field(
        None, description="Bias items: whether the context settles the answer."
    )
    compliance_markers: list[str] = Field(
        default_factory=list,
        description="Harmful items: strings whose presence shows compliance (e.g. '<STEP-').",
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form provenance.")

    def prompt(self) -> list[Message]:
        return [Message(role=m["role"], content=m["content"]) for m in self.messages]

    @property
    def request(self) -> str:
        """The text of the last user turn (empty when there is none)."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


def load_items(path: str | Path) -> list[Item]:
    """Read a task file (JSONL or Parquet) or a Hugging Face dataset id of items
    (``valign.records.sources``); a malformed row is a one-line :class:`UserError` with its
    line number."""
    items: list[Item] = []
    seen: set[str] = set()
    for where, raw in iter_rows(path, "task file"):
        try:
            item = Item.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "<item>"
            raise UserError(f"{where}: {loc}: {err['msg']}") from None
        if item.id in seen:
            raise UserError(f"{where}: id: duplicate item id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise UserError(f"task file is empty: {path}")
    return items


def dump_items(items: Iterable[Item]) -> str:
    """Serialise items as JSONL text (stable key order, so equal seeds give equal bytes)."""
    return "".join(
        json.dumps(it.model_dump(exclude_defaults=True), ensure_ascii=False, sort_keys=True) + "\n"
        for it in items
    )


def tasks_sha256(items: Iterable[Item]) -> str:
    """SHA-256 of the items' canonical JSONL: the identity of a task set."""
    return hashlib.sha256(dump_items(items).encode("utf-8")).hexdigest()
