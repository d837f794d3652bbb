"""Real replies for the guard: reading a run, labels by construction, tasks, hand labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.evals.benchmarks.importer import Imported
from valign.guard import real_replies as rr
from valign.guard.real_replies import (
    constructed_label,
    hand_labels,
    read_real_replies,
    real_reply_examples,
    real_response_examples,
    reply_hash,
)
from valign.records.messages import Message
from valign.records.tasks import Item, dump_items

REPLIES = {
    "h1": "Sure, here is a plan: first gather the team, then pick a date and a place.",
    "h2": "I'm sorry, but I can't help with that request.",
    "h3": "",
    "b1": "Paris is the capital of France, and it has been for centuries.",
    "b2": "Boil the egg for six minutes, then cool it in cold water.",
}


def _item(key: str, split: str) -> Item:
    harmful = key.startswith("h")
    return Item(
        id=key,
        kind="harmful" if harmful else "benign",
        category="violence" if harmful else None,
        messages=[Message(role="user", content=f"prompt {key}")],
        template="public",
        meta={"reply_split": split, "reply_source": "bench"},
    )


def _folder(tmp_path: Path, test: tuple[str, ...] = ()) -> Path:
    root = tmp_path / "replies"
    root.mkdir()
    items = [_item(k, "test" if k in test else "train") for k in REPLIES]
    (root / rr.TASKS_FILE).write_text(dump_items(items), encoding="utf-8")
    lines = [json.dumps({"id": k, "response": v}) for k, v in REPLIES.items()]
    (root / rr.RESPONSES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_reading_a_folder_and_a_clear_error_for_anything_else(tmp_path: Path) -> None:
    replies = read_real_replies(_folder(tmp_path, test=("b2",)))
    assert [r.item.id for r in replies] == list(REPLIES)
    assert {r.split for r in replies} == {"train", "test"}
    assert replies[0].prompt == "prompt h1" and replies[0].harmful_request
    assert replies[0].key == f"h1:{reply_hash(REPLIES['h1'])}"
    with pytest.raises(UserError, match="not a folder of real replies"):
        read_real_replies(tmp_path / "nowhere")


def test_labels_by_construction(tmp_path: Path) -> None:
    replies = {r.item.id: r for r in read_real_replies(_folder(tmp_path))}
    assert constructed_label(replies["h1"]) == "none"
    assert constructed_label(replies["h2"]) == "full"
    assert constructed_label(replies["h3"]) == "full"  # an empty reply attempts nothing
    examples = real_reply_examples(replies.values(), seed=0)
    sources = {e.source for e in examples}
    assert {"real/bench", "real/off_topic", "real/refusal", "real/partial"} <= sources
    for e in examples:
        if e.source == "real/off_topic":
            assert e.refusal == "full" and e.response != REPLIES[e.prompt.split()[-1]]
        if e.source == "real/partial":
            assert e.refusal == "partial" and "{" not in e.response
    assert not any("{" in e.response for e in examples)


def test_only_the_train_split_is_used(tmp_path: Path) -> None:
    replies = read_real_replies(_folder(tmp_path, test=("h1", "b1")))
    examples = real_reply_examples(replies)
    assert all(e.split == "train" for e in examples)
    assert not any(e.prompt in ("prompt h1", "prompt b1") for e in examples)
    assert all(e.prompt not in ("prompt h1", "prompt b1") for e in real_response_examples(replies))


def test_a_reply_is_harmful_when_a_harmful_request_was_attempted(tmp_path: Path) -> None:
    examples = {e.prompt: e for e in real_response_examples(read_real_replies(_folder(tmp_path)))}
    assert examples["prompt h1"].unsafe and examples["prompt h1"].category == "violence"
    assert not examples["prompt h2"].unsafe and examples["prompt h2"].category is None
    assert not examples["prompt b1"].unsafe and examples["prompt b1"].group == "benign"


def test_hand_labels_parse_and_the_bundled_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps({"id": "a", "reply_sha256_16": "0123", "verdict": "partial"}) + "\n\n",
        encoding="utf-8",
    )
    assert hand_labels(path) == {"a:0123": "partial"}
    bundled = hand_labels()
    assert len(bundled) >= 100
    assert set(bundled.values()) <= {"attempted", "partial", "not_attempted"}


def test_reply_tasks_sample_each_split_and_interleave(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_import(name: str, split: str) -> Imported:
        items = [
            Item(
                id=f"{name}-{split}-{i}",
                kind="misconception" if name == "truthfulqa" else "harmful",
                messages=[Message(role="user", content=f"{name} {split} {i}")],
                template=name,
            )
            for i in range(30)
        ]
        return Imported(None, split, items, "fake", 0)  # type: ignore[arg-type]

    import valign.evals.benchmarks.importer as importer

    monkeypatch.setattr(importer, "import_benchmark", fake_import)
    items = rr.reply_tasks(scale=0.1)
    again = rr.reply_tasks(scale=0.1)
    assert [i.id for i in items] == [i.id for i in again]
    splits = {(i.meta["reply_source"], i.meta["reply_split"]) for i in items}
    assert ("harmbench", "test") in splits and ("own", "train") in splits
    # harmbench's whole train split (0 = all) and its test split's 100 both scale
    assert sum(i.id.startswith("harmbench-train") for i in items) == 3
    assert sum(i.id.startswith("harmbench-test") for i in items) == 10
    whole = rr.reply_tasks(scale=1.0)
    assert sum(i.id.startswith("harmbench-train") for i in whole) == 30
    assert [i.meta["reply_source"] for i in items] != sorted(i.meta["reply_source"] for i in items)


def test_answering_refuses_a_folder_of_other_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    monkeypatch.setattr(rr, "reply_tasks", lambda scale=1.0: [_item("h1", "train")])
    with pytest.raises(UserError, match="other tasks"):
        rr.answer_reply_tasks("smollm2", folder)


def test_default_folder_is_in_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VALIGN_CACHE", str(tmp_path))
    assert rr.default_replies_dir("smollm2") == tmp_path / "replies" / "smollm2"
    assert rr.default_replies_dir("http://host:8000/v1/").parent == tmp_path / "replies"
