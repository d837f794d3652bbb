"""A guard in front of recorded replies: the same decisions as in front of the live model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.guard.guarded import GuardedChatModel
from valign.guard.replay import ReplayModel
from valign.guard.types import GuardInput, GuardVerdict
from valign.models.types import GenerationConfig
from valign.records.messages import Message
from valign.records.tasks import Item


def _item(i: str, text: str) -> Item:
    return Item(id=i, kind="harmful", messages=[Message(role="user", content=text)])


def _responses(path: Path, replies: dict[str, str]) -> Path:
    rows = [{"id": k, "kind": "harmful", "response": v} for k, v in replies.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class WordGuard:
    """Flags any prompt or reply containing ``word``."""

    name = "word"

    def __init__(self, word: str) -> None:
        self.word = word

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        out = []
        for x in inputs:
            text = x.response if x.response is not None else x.prompt
            hit = self.word in text
            out.append(GuardVerdict(flagged=hit, score=float(hit), categories={}))
        return out


def test_recorded_replies_come_back_for_their_conversations(tmp_path: Path) -> None:
    items = [_item("a", "first request"), _item("b", "second request")]
    path = _responses(tmp_path / "responses.jsonl", {"a": "reply A", "b": "reply B", "c": "x"})
    model = ReplayModel.from_records(items, path, "base")
    gen = GenerationConfig(max_new_tokens=8)
    convs = [it.prompt() for it in reversed(items)]
    assert model.generate(convs, gen) == ["reply B", "reply A"]  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no recorded reply"):
        model.generate([[{"role": "user", "content": "never asked"}]], gen)
    with pytest.raises(UserError, match="cannot score"):
        model.continuation_logprobs([], [])


def test_an_item_without_a_recorded_reply_is_a_user_error(tmp_path: Path) -> None:
    path = _responses(tmp_path / "responses.jsonl", {"a": "reply A"})
    with pytest.raises(UserError, match=r"no reply for 1 items, e\.g\. b"):
        ReplayModel.from_records([_item("a", "x"), _item("b", "y")], path, "base")


def test_a_guard_in_front_replaces_flagged_turns_with_the_refusal(tmp_path: Path) -> None:
    items = [_item("a", "bad request"), _item("b", "fine request"), _item("c", "fine too")]
    path = _responses(tmp_path / "r.jsonl", {"a": "ok", "b": "a bad answer", "c": "a good one"})
    replay = ReplayModel.from_records(items, path, "base")
    guarded = GuardedChatModel(replay, WordGuard("bad"), refusal_message="No.")  # type: ignore[arg-type]
    got = guarded.generate([it.prompt() for it in items], GenerationConfig())  # type: ignore[misc]
    assert got == ["No.", "No.", "a good one"]
    assert guarded.counts == {"turns": 3, "inputs_blocked": 1, "outputs_blocked": 1}
