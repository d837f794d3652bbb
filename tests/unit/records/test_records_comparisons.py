from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.records.comparisons import (
    Comparison,
    iter_comparisons,
    load_comparisons,
    to_trl,
    write_comparisons,
)

GOOD = {
    "id": "c1",
    "prompt": [{"role": "user", "content": "What lives in the lake?"}],
    "chosen": "Frogs.",
    "rejected": "I can't help with that.",
    "source": "human",
    "rater": "r1",
    "principles": ["helpfulness"],
    "timestamp": "2026-11-25T15:00:00+00:00",
}


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "prefs.jsonl"
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    row = Comparison.model_validate({**GOOD, "p_chosen": 0.8, "chosen_harmful": False})
    path = tmp_path / "out" / "p.jsonl"
    assert write_comparisons(path, [row]) == 1
    back = load_comparisons(path)
    assert back == [row]
    assert back[0].messages() == GOOD["prompt"]


def test_world_preferences_are_valid(tiny_world: Path) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")
    assert rows and all(r.source == "rule" for r in rows)
    harmful = [r for r in rows if r.kind in ("harmful", "jailbreak")]
    assert all(r.rejected_harmful and r.chosen_harmful is False for r in harmful)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({**GOOD, "source": "crowd"}, "source"),
        ({**GOOD, "prompt": []}, "prompt"),
        ({**GOOD, "prompt": [{"role": "assistant", "content": "hi"}]}, "user"),
        ({**GOOD, "p_chosen": 1.5}, "p_chosen"),
        ({**GOOD, "colour": "blue"}, "colour"),
        ({k: v for k, v in GOOD.items() if k != "chosen"}, "chosen"),
    ],
)
def test_bad_records_name_the_line_and_field(tmp_path: Path, row: object, message: str) -> None:
    path = _write(tmp_path, row)
    with pytest.raises(UserError, match=message) as info:
        list(iter_comparisons(path))
    assert f"{path}:1" in str(info.value)


def test_duplicate_ids_and_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r":2: duplicate id 'c1'"):
        list(iter_comparisons(_write(tmp_path, GOOD, GOOD)))
    with pytest.raises(UserError, match="no comparisons"):
        load_comparisons(_write(tmp_path, ""))
    with pytest.raises(UserError, match="not found"):
        load_comparisons(tmp_path / "missing.jsonl")


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_trl_standard_preference_files_are_read(tmp_path: Path) -> None:
    plain = {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "score": 1}
    conversational = {
        "prompt": [{"role": "user", "content": "Hi"}],
        "chosen": [{"role": "assistant", "content": "Hello!"}],
        "rejected": [{"role": "assistant", "content": "Go away."}],
    }
    implicit = {
        "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "No."}],
    }
    rows = load_comparisons(_jsonl(tmp_path / "prefs.jsonl", [plain, conversational, implicit]))
    assert [r.id for r in rows] == ["prefs-1", "prefs-2", "prefs-3"]
    assert {r.source for r in rows} == {"external"}
    assert rows[0].messages() == [{"role": "user", "content": "What is 2+2?"}]
    assert (rows[0].chosen, rows[0].rejected, rows[0].meta) == ("4", "5", {"score": 1})
    assert (rows[1].chosen, rows[2].rejected) == ("Hello!", "No.")
    assert rows[2].messages() == [{"role": "user", "content": "Hi"}]
    # and back: TRL's conversational form round-trips
    again = load_comparisons(_jsonl(tmp_path / "again.jsonl", [to_trl(r) for r in rows]))
    assert [(r.prompt, r.chosen, r.rejected) for r in again] == [
        (r.prompt, r.chosen, r.rejected) for r in rows
    ]


def test_a_broken_trl_row_is_one_line_with_its_place(tmp_path: Path) -> None:
    bad = {
        "chosen": [{"role": "user", "content": "A"}, {"role": "assistant", "content": "x"}],
        "rejected": [{"role": "user", "content": "B"}, {"role": "assistant", "content": "y"}],
    }
    with pytest.raises(UserError, match=r"bad.jsonl:1: without a prompt"):
        load_comparisons(_jsonl(tmp_path / "bad.jsonl", [bad]))
    two_turns = {"prompt": "Hi", "chosen": [{"role": "user", "content": "x"}], "rejected": "y"}
    with pytest.raises(UserError, match="chosen: expected text or one assistant turn"):
        load_comparisons(_jsonl(tmp_path / "two.jsonl", [two_turns]))


def test_parquet_preference_files_are_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "prefs.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "Q?", "chosen": "A", "rejected": "B"}]), path)
    (row,) = load_comparisons(path)
    assert (row.id, row.prompt[-1]["content"], row.chosen) == ("prefs-1", "Q?", "A")


def test_a_hub_id_goes_through_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def fake_load_dataset(name: str, split: str) -> list[dict[str, object]]:
        calls.append((name, split))
        return [{"prompt": "Q?", "chosen": "A", "rejected": "B"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    (row,) = load_comparisons("someone/prefs:test")
    assert calls == [("someone/prefs", "test")] and row.id == "someone-prefs-1"


def test_an_unreachable_hub_id_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(name: str, split: str) -> None:
        raise ConnectionError("offline\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match=r"^someone/prefs: no such file, .*\(offline\)$"):
        load_comparisons("someone/prefs")
