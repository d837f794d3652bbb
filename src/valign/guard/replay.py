"""A model that answers with replies already recorded, so a guard can be put in front of them.

With greedy decoding a model's reply to a prompt is fixed, so the guard's effect on a
scorecard can be measured on the scorecard's own recorded replies: wrap a
:class:`ReplayModel` in :class:`~valign.guard.guarded.GuardedChatModel` and evaluate again.
The guard then sees exactly what it would have seen in front of the live model, and nothing
is generated twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from valign.errors import UserError
from valign.models.types import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation
from valign.records.runs import read_records
from valign.records.tasks import Item


def conversation_key(conv: Conversation | Sequence[Mapping[str, str]]) -> str:
    """A conversation as a lookup key (role and text of every turn)."""
    return json.dumps([[m["role"], m["content"]] for m in conv], ensure_ascii=False)


class ReplayModel:
    """Answers each conversation with its recorded reply; an unknown one is a
    :class:`UserError`. It scores nothing (``continuation_logprobs`` raises)."""

    def __init__(self, replies: Mapping[str, str], name: str = "replay") -> None:
        self.replies, self.name = dict(replies), name
        self.tokenizer = None  # nothing to score multiple-choice items with

    @classmethod
    def from_records(cls, items: Sequence[Item], responses: Path, name: str) -> ReplayModel:
        """The replies of a scorecard's ``responses.jsonl`` to ``items``."""
        stored = {str(r["id"]): str(r.get("response") or "") for r in read_records(responses)}
        missing = [it.id for it in items if it.id not in stored]
        if missing:
            raise UserError(f"{responses} has no reply for {len(missing)} items, e.g. {missing[0]}")
        return cls({conversation_key(it.prompt()): stored[it.id] for it in items}, name)

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        out = []
        for conv in convs:
            key = conversation_key(conv)
            if key not in self.replies:
                raise UserError(f"no recorded reply for the conversation {key[:80]}")
            out.append(self.replies[key])
        return out

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        raise UserError("recorded replies cannot score continuations")
