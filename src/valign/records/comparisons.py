"""One file format for comparisons: every producer writes it, every trainer reads it.

A comparison is a conversation that ends in a user turn, two candidate replies and which
one is preferred. Producers: the microworld's labelled set (``source: rule``), the human
rating app (``human``), the AI evaluator (``ai``), red-team findings (``redteam``).
Consumers: the reward and cost models, DPO, and the online-RL prompt pool.

One JSON object per line::

    {"id": "...", "prompt": [{"role": "user", "content": "..."}],
     "chosen": "...", "rejected": "...", "source": "human", "rater": "r17",
     "principles": ["harm-avoidance"], "category": "weapons_mass_harm",
     "chosen_score": 6.0, "rejected_score": 2.0, "p_chosen": 0.93,
     "timestamp": "2026-11-25T15:00:00+00:00"}

``p_chosen`` keeps a soft label (the evaluator's probability that ``chosen`` is better);
``chosen_harmful`` / ``rejected_harmful`` are the safety labels the cost model learns from
(unknown when absent).

Files in TRL's standard preference formats are read too, so a dataset made for TRL goes
straight into ``valign train dpo|reward``: ``{"prompt", "chosen", "rejected"}`` with plain
text or conversations (``prompt`` a list of turns, ``chosen``/``rejected`` one assistant
turn each), and the implicit-prompt form (``chosen``/``rejected`` whole conversations that
share every turn but the last). Such a row gets the id ``<file stem>-<line>`` and the
source ``external`` (who judged is not recorded); its other keys go into ``meta``.
:func:`to_trl` writes a comparison back in TRL's conversational form.

A source can be a JSONL file (JSON Lines with any suffix), a Parquet file, a Hugging Face
dataset id (``org/name`` or ``org/name:split``, through ``datasets.load_dataset``; the train
split by default) or a dataset folder: :mod:`valign.records.sources`, shared by every input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from valign.errors import UserError
from valign.records.messages import Message, reply_text
from valign.records.sources import iter_rows, source_stem

Source = Literal["human", "ai", "rule", "redteam", "external"]
SOURCES: tuple[str, ...] = ("human", "ai", "rule", "redteam", "external")


class Comparison(BaseModel):
    """One preference judgement between two replies to the same conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Unique id within the file.")
    prompt: list[Message] = Field(
        min_length=1, description="The conversation so far; its last turn is the user's."
    )
    chosen: str = Field(description="The preferred reply.")
    rejected: str = Field(description="The reply judged worse.")
    source: Source = Field(
        description="Who judged: human, ai, rule, redteam, or external (a file in TRL's format)."
    )
    rater: str = Field("", description="Rater id (a person, a judge model, a rule set).")
    principles: list[str] = Field(
        default_factory=list, description="Constitution principle ids the judgement applied."
    )
    category: str | None = Field(None, description="Taxonomy category of the prompt, if any.")
    kind: str | None = Field(None, description="Microworld item kind, if any.")
    chosen_score: float | None = Field(None, description="Rating of the chosen reply.")
    rejected_score: float | None = Field(None, description="Rating of the rejected reply.")
    p_chosen: float | None = Field(
        None, ge=0.0, le=1.0, description="Soft label: probability that chosen is better."
    )
    chosen_harmful: bool | None = Field(None, description="Safety label of the chosen reply.")
    rejected_harmful: bool | None = Field(None, description="Safety label of the rejected reply.")
    timestamp: datetime | None = Field(None, description="When the judgement was made.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form provenance.")

    @field_validator("prompt")
    @classmethod
    def _ends_with_user(cls, prompt: list[Message]) -> list[Message]:
        if prompt[-1]["role"] != "user":
            raise ValueError("the last turn of the prompt must be the user's")
        return prompt

    def messages(self) -> list[Message]:
        return [Message(role=m["role"], content=m["content"]) for m in self.prompt]


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _split_implicit(raw: dict[str, Any], where: str) -> tuple[Any, Any, Any]:
    """TRL's implicit-prompt form: two conversations that differ only in the last turn."""
    chosen, rejected = raw["chosen"], raw["rejected"]
    ok = isinstance(chosen, list) and isinstance(rejected, list) and len(chosen) >= 2
    if not ok or chosen[:-1] != rejected[:-1] or len(chosen) != len(rejected):
        raise UserError(
            f"{where}: without a prompt, chosen and rejected must be conversations that "
            "share every turn but the last"
        )
    return chosen[:-1], [chosen[-1]], [rejected[-1]]


def from_trl(raw: dict[str, Any], where: str, row_id: str) -> dict[str, Any]:
    """A row of TRL's standard preference formats as a comparison row (not yet validated)."""
    known = {"prompt", "chosen", "rejected"}
    if "prompt" in raw:
        prompt, chosen, rejected = raw["prompt"], raw["chosen"], raw["rejected"]
    else:
        prompt, chosen, rejected = _split_implicit(raw, where)
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    return {
        "id": row_id,
        "prompt": prompt,
        "chosen": reply_text(chosen, where, "chosen"),
        "rejected": reply_text(rejected, where, "rejected"),
        "source": "external",
        "meta": {k: v for k, v in raw.items() if k not in known},
    }


def _is_trl(raw: dict[str, Any]) -> bool:
    return "chosen" in raw and "rejected" in raw and not {"id", "source"} <= raw.keys()


def to_trl(row: Comparison) -> dict[str, Any]:
    """TRL's conversational preference row: the prompt's turns, one assistant turn each."""
    return {
        "prompt": row.messages(),
        "chosen": [{"role": "assistant", "content": row.chosen}],
        "rejected": [{"role": "assistant", "content": row.rejected}],
    }


def _validated(raws: Iterable[tuple[str, dict[str, Any]]], stem: str) -> Iterator[Comparison]:
    seen: set[str] = set()
    for i, (where, raw) in enumerate(raws, 1):
        if _is_trl(raw):
            raw = from_trl(raw, where, f"{stem}-{i}")
        try:
            row = Comparison.model_validate(raw)
        except ValidationError as exc:
            raise UserError(f"{where}: {_describe(exc)}") from None
        if row.id in seen:
            raise UserError(f"{where}: duplicate id {row.id!r}")
        seen.add(row.id)
        yield row


def iter_comparisons(path: Path | str) -> Iterator[Comparison]:
    """Stream and validate comparisons (valign's format or TRL's) from a JSONL or Parquet
    file, a Hugging Face dataset id or a dataset folder (``valign.records.sources``);
    errors name the file and line."""
    return _validated(iter_rows(path, "preference file"), source_stem(path))


def load_comparisons(path: Path | str) -> list[Comparison]:
    """Every comparison of a source (see :func:`iter_comparisons`): a file or a Hugging Face
    dataset id (``org/name[:split]``); an empty source is an error."""
    rows = list(iter_comparisons(path))
    if not rows:
        raise UserError(f"{path}: no comparisons in the file")
    return rows


def dump_comparison(row: Comparison) -> str:
    return row.model_dump_json(exclude_none=True, exclude_defaults=True) + "\n"


def write_comparisons(path: Path, rows: Iterable[Comparison]) -> int:
    """Write a whole file atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dump_comparison(row))
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return n
