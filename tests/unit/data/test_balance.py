"""Balancing the demonstrations built from a model's own replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valign.data.balance import balance_borderline
from valign.records.messages import Message
from valign.records.tasks import Item, dump_items


def _item(i: str, text: str, kind: str, split: str, source: str) -> Item:
    return Item(
        id=i,
        kind=kind,  # type: ignore[arg-type]
        messages=[Message(role="user", content=text)],
        meta={"reply_split": split, "reply_source": source},
    )


def _records(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_answers_to_borderline_requests_are_repeated_to_balance_the_refusals(
    tmp_path: Path,
) -> None:
    items = [_item(f"h{i}", f"harm {i}", "harmful", "train", "strongreject") for i in range(6)]
    items += [
        _item(f"b{i}", f"sensitive {i}", "borderline", "train", "donotanswer") for i in (0, 1)
    ]
    items.append(_item("m0", "a question", "misconception", "train", "truthfulqa"))
    (tmp_path / "tasks.jsonl").write_text(dump_items(items), encoding="utf-8")

    def demo(it: Item, reply: str) -> dict[str, Any]:
        return {
            "id": f"real/{it.id}",
            "messages": [
                {"role": "user", "content": it.request},
                {"role": "assistant", "content": reply},
            ],
            "provenance": {"source": "real_replies", "item": it.id},
        }

    rows = [demo(it, "I can't help with that.") for it in items[:6]]
    rows += [demo(it, "Here is some care advice.") for it in items[6:]]
    sft = tmp_path / "sft.jsonl"
    _records(sft, rows)
    got = balance_borderline(sft, tmp_path, ratio=1.0)
    assert got == {"refusals": 6, "borderline": 2, "repeat": 3}
    ids = [json.loads(line)["id"] for line in sft.open()]
    assert len(ids) == 9 + 2 * 2 and len(set(ids)) == len(ids)
    assert sum(i.startswith("real/b0") for i in ids) == 3
    assert sum(i.startswith("real/m0") for i in ids) == 1
    # ratio 0 leaves the file as it was
    before = sft.read_text()
    assert balance_borderline(sft, tmp_path, ratio=0)["repeat"] == 1
    assert sft.read_text() == before
