"""The real-model profile's checks: red-team objectives from the public test split, settings."""

from __future__ import annotations

import json
from pathlib import Path

from valign.records.messages import Message
from valign.records.tasks import Item
from valign.redteam.objectives import objectives_file


def _item(i: str, kind: str, source: str) -> Item:
    return Item(
        id=i,
        kind=kind,  # type: ignore[arg-type]
        category="weapons" if kind == "harmful" else None,
        messages=[Message(role="user", content=f"request {i}")],
        meta={"reply_split": "test", "reply_source": source},
    )


def test_objectives_are_the_first_harmful_requests_of_each_source(tmp_path: Path) -> None:
    items = [_item(f"hb{i}", "harmful", "harmbench") for i in range(3)]
    items += [_item(f"sr{i}", "harmful", "strongreject") for i in range(1)]
    items += [_item("bd0", "borderline", "donotanswer")]
    path = tmp_path / "objectives.jsonl"
    assert objectives_file(items, path, limit=2) == 3
    rows = [json.loads(line) for line in path.open()]
    assert [r["id"] for r in rows] == ["hb0", "hb1", "sr0"]
    assert rows[0] == {"id": "hb0", "category": "weapons", "request": "request hb0"}
    # what valign redteam reads
    from valign.redteam.objectives import load_objectives_file

    assert [o.id for o in load_objectives_file(path)] == ["hb0", "hb1", "sr0"]
