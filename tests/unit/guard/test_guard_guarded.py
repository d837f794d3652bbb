"""Guarded generation: blocked inputs never reach the model, blocked outputs are replaced."""

from __future__ import annotations

from pathlib import Path

from guard_testkit import FakeBackend, FakeChatModel

from valign.guard.guarded import GuardedChatModel, last_user_message
from valign.models import ChatModel, GenerationConfig
from valign.records.runs import read_records
from valign.values import load_constitution


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "be nice"}, {"role": "user", "content": text}]


def test_inputs_and_outputs_pass_the_guard(tmp_path: Path) -> None:
    model = FakeChatModel(reply=lambda p: "LEAK" if p == "tricky" else f"answer to {p}")
    guard = FakeBackend("fake", {"attack": 0.99, "LEAK": 0.99})
    log = tmp_path / "guard.jsonl"
    with GuardedChatModel(model, guard, log=log) as guarded:
        assert isinstance(guarded, ChatModel)
        replies = guarded.generate(
            [conv("hello"), conv("attack"), conv("tricky")], GenerationConfig()
        )
    refusal = load_constitution("default").refusal_message
    assert replies == ["answer to hello", refusal, refusal]
    assert model.generated == ["hello", "tricky"]  # the blocked input never reached the model
    assert guarded.counts == {"turns": 3, "inputs_blocked": 1, "outputs_blocked": 1}
    records = read_records(log)
    assert [(r["index"], r["stage"], r["action"]) for r in records] == [
        (0, "input", "allow"),
        (1, "input", "block"),
        (2, "input", "allow"),
        (0, "output", "allow"),
        (2, "output", "block"),
    ]
    assert records[4]["response"] == "LEAK" and records[4]["score"] == 0.99


def test_sides_can_be_switched_off_and_the_message_chosen() -> None:
    model = FakeChatModel(reply=lambda p: "LEAK")
    guard = FakeBackend("fake", {"attack": 0.99, "LEAK": 0.99})
    only_in = GuardedChatModel(model, guard, refusal_message="No.", check_outputs=False)
    assert only_in.generate([conv("attack"), conv("hi")], GenerationConfig()) == ["No.", "LEAK"]
    only_out = GuardedChatModel(model, guard, refusal_message="No.", check_inputs=False)
    assert only_out.generate([conv("attack")], GenerationConfig()) == ["No."]
    assert only_out.name == "fake+guard:fake"


def test_scoring_passes_through_and_attributes_delegate() -> None:
    model = FakeChatModel(logprob=lambda p, k: -2.0)
    guarded = GuardedChatModel(model, FakeBackend("fake", {}), refusal_message="No.")
    assert guarded.continuation_logprobs([conv("x")], ["y"])[0].logprob == -2.0
    assert guarded.reply is model.reply


def test_last_user_message() -> None:
    assert last_user_message(conv("hi")) == "hi"
    assert last_user_message([{"role": "system", "content": "s"}]) == ""
