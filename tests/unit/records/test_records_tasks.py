"""Task files: the Item schema, line-exact load errors, and the dump/load round trip."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from valign.errors import UserError
from valign.records.messages import Message
from valign.records.tasks import KINDS, Item, dump_items, load_items
from valign.world.generate import Generator
from valign.world.lexicon import build_lexicon


def _row(i: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"item-{i}",
        "kind": "benign",
        "messages": [{"role": "user", "content": f"What is {i} plus 1?"}],
        **extra,
    }


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row)


def _load_error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_items(path)
    message = str(info.value)
    assert "\n" not in message  # one line, as the CLI prints it
    return message


def test_loads_a_valid_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_line(_row(1)), "", "   ", _line(_row(2, answers=["3"]))])
    items = load_items(path)
    assert [it.id for it in items] == ["item-1", "item-2"]
    assert items[1].answers == ["3"]
    assert items[0].prompt() == [{"role": "user", "content": "What is 1 plus 1?"}]
    assert load_items(str(path)) == items  # a str path works too


def test_missing_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path / "nope.jsonl")
    assert "not found" in message and "nope.jsonl" in message


def test_directory_is_not_a_task_file(tmp_path: Path) -> None:
    assert "not found" in _load_error(tmp_path)


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_line(_row(1)), "", '{"id": "x", "kind": '])
    message = _load_error(path)
    assert f"{path}:3:" in message  # blank lines still count
    assert "not valid JSON" in message


def test_unknown_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_line(_row(1)), _line(_row(2, bogus=1))])
    message = _load_error(path)
    assert ":2:" in message and "bogus" in message


def test_unknown_field_in_a_message(tmp_path: Path) -> None:
    row = _row(1)
    row["messages"][0]["name"] = "bob"
    message = _load_error(_write(tmp_path / "t.jsonl", [_line(row)]))
    assert ":1:" in message and "messages.0.name" in message


def test_wrong_kind(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_line(_row(1, kind="evil"))])
    message = _load_error(path)
    assert ":1:" in message and "kind" in message


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"kind": "benign", "messages": [{"role": "user", "content": "hi"}]}, "id"),
        ({"id": "a", "kind": "benign", "messages": []}, "messages"),
        ({"id": "a", "kind": "benign", "messages": [{"role": "bot", "content": "x"}]}, "role"),
        (_row(1, answer_type="regex"), "answer_type"),
        (_row(1, context="vague"), "context"),
        (_row(1, correct="first"), "correct"),
    ],
)
def test_invalid_fields(tmp_path: Path, row: dict[str, Any], field: str) -> None:
    message = _load_error(_write(tmp_path / "t.jsonl", [_line(row)]))
    assert ":1:" in message and field in message


@pytest.mark.parametrize("line", ["[1, 2]", '"an item"', "42", "null"])
def test_a_line_that_is_not_an_object(tmp_path: Path, line: str) -> None:
    message = _load_error(_write(tmp_path / "t.jsonl", [_line(_row(1)), line]))
    assert ":2:" in message


def test_duplicate_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_line(_row(1)), _line(_row(2)), _line(_row(1))])
    message = _load_error(path)
    assert ":3:" in message and "duplicate" in message and "item-1" in message


@pytest.mark.parametrize("text", ["", "\n\n", "  \n\t\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(text, encoding="utf-8")
    assert "empty" in _load_error(path)


def test_non_utf8_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(_row(1)).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')
    _load_error(path)


def test_item_is_frozen_and_strict() -> None:
    item = Item.model_validate(_row(1))
    with pytest.raises(ValidationError):
        item.id = "other"
    row = _row(1)
    row["messages"] = [{"role": "user", "content": "x", "extra": "y"}]
    with pytest.raises(ValidationError):
        Item.model_validate(row)
    row["messages"] = [{"role": "robot", "content": "x"}]
    with pytest.raises(ValidationError):
        Item.model_validate(row)
    assert item.answer_type == "text" and item.correct is None and item.entities == []


def _generated_items() -> list[Item]:
    gen = Generator(build_lexicon(0), "eval", random.Random(1))
    return [getattr(gen, kind)().item for kind in KINDS for _ in range(3)]


def test_round_trip_dump_load(tmp_path: Path) -> None:
    hand = Item(
        id="hand-1",
        kind="misconception",
        messages=[
            Message(role="system", content="Be truthful."),
            Message(role="user", content="What colour is ümber stone? “Quoted”"),
        ],
        category="misinformation",
        answers=["green"],
        wrong_answers=["red"],
        choices=["Ümber stone is green.", "Ümber stone is red."],
        choice_labels=["truth", "misconception"],
        correct=0,
        meta={"source": "hand", "nested": {"n": [1, 2]}},
    )
    items = [*_generated_items(), hand]
    text = dump_items(items)
    assert text.count("\n") == len(items)
    path = tmp_path / "t.jsonl"
    path.write_text(text, encoding="utf-8")
    loaded = load_items(path)
    assert loaded == items
    assert dump_items(loaded) == text  # stable bytes
    assert "ümber" in text  # written as UTF-8, not escaped


def test_dump_leaves_defaults_out_and_sorts_keys() -> None:
    line = dump_items([Item.model_validate(_row(1))])
    data = json.loads(line)
    assert set(data) == {"id", "kind", "messages"}
    assert line.index('"id"') < line.index('"kind"') < line.index('"messages"')
    assert dump_items([]) == ""
