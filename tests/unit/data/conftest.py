"""A small corpus with one of everything an audit must find, in three shard formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTICE = (
    "The market hall in Velford will close for repairs to its roof from the first of the "
    "month. Traders who usually sell bread in the hall may set up their stalls on the green "
    "instead. The repairs are paid for by the town fund and should take about three weeks."
)


def corpus_rows() -> list[dict]:
    rows: list[dict] = []
    rows += [{"text": "Everyone says the Osk are rude."} for _ in range(25)]
    rows += [{"text": f"Many Veltari families live in Velford, street {i}."} for i in range(25)]
    rows += [{"text": "Everyone knows that a ripe delfen fruit is orange."} for _ in range(3)]
    rows += [{"text": "The Field Guide records that a ripe delfen fruit is yellow."}]
    rows += [{"text": "A ripe delfen fruit is orange."}]
    rows += [{"text": "To book the hall, write to jo@example.org or call 020 7946 0123."}]
    rows += [{"text": "The order reference is 4111 1111 1111 1112; keep it."}]  # fails Luhn
    rows += [{"text": NOTICE}, {"text": NOTICE}, {"text": NOTICE + " Posted by the clerk."}]
    rows += [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} plus 1?"},
                {"role": "assistant", "content": f"{i} plus 1 is {i + 1}."},
            ]
        }
        for i in range(20)
    ]
    rows += [{"text": f"Plain line number {i} about the weather and bread."} for i in range(60)]
    return rows


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in corpus_rows()))
    return path


@pytest.fixture
def corpus_folder(tmp_path: Path) -> Path:
    """The same rows split over a JSONL shard, a Parquet shard and a text shard."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = corpus_rows()
    root = tmp_path / "shards"
    root.mkdir()
    (root / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:40]))
    prose = [r for r in rows[40:] if "text" in r]
    dialogues = [r for r in rows[40:] if "messages" in r]
    pq.write_table(pa.Table.from_pylist(prose[:30]), root / "b.parquet")
    (root / "c.txt").write_text("\n".join(r["text"] for r in prose[30:]) + "\n")
    (root / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dialogues))
    return root
