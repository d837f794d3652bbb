from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.records.comparisons import (
    Comparison,
    iter_comparisons,
    load_comparisons,
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
