"""The JSONL contract of `valign guard classify` and `valign guard refusal`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from guard_testkit import FakeBackend

from valign.errors import UserError
from valign.guard.jsonl import classify_file, read_records, refusal_file
from valign.guard.refusal import RefusalDetector


def write(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_classify_adds_fields_and_keeps_every_other_field(tmp_path: Path) -> None:
    src = write(
        tmp_path / "in.jsonl",
        [
            {"id": 1, "prompt": "attack", "meta": {"k": [1, 2]}},
            {"id": 2, "prompt": "hello", "response": "attack"},
            {"id": 3, "prompt": "hello", "response": None, "flagged": "old value"},
        ],
    )
    guard = FakeBackend("fake", {"attack": 0.9})
    assert classify_file(src, tmp_path / "out.jsonl", guard, batch_size=2) == 3
    out = read(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [1, 2, 3]
    assert out[0]["meta"] == {"k": [1, 2]}
    assert out[0]["flagged"] is True and out[0]["score"] == 0.9
    assert set(out[0]["categories"]) == set(guard.categories)  # type: ignore[arg-type]
    assert out[1]["flagged"] is True  # the response is judged
    assert out[2]["flagged"] is False and out[2]["response"] is None
    seen = [(i.prompt, i.response) for call in guard.calls for i in call]
    assert seen == [("attack", None), ("hello", "attack"), ("hello", None)]


def test_classify_with_the_small_guard(tmp_path: Path, guard_dir: Path) -> None:
    from valign.guard.types import get_backend

    src = write(tmp_path / "in.jsonl", [{"prompt": "What is 2 plus 2?", "x": True}])
    classify_file(src, tmp_path / "out.jsonl", lambda: get_backend(guard_dir))
    (row,) = read(tmp_path / "out.jsonl")
    assert set(row) == {"prompt", "x", "flagged", "score", "categories"}
    assert isinstance(row["flagged"], bool) and 0.0 <= row["score"] <= 1.0  # type: ignore[operator]


def test_refusal_adds_fields(tmp_path: Path, detector: RefusalDetector) -> None:
    src = write(
        tmp_path / "in.jsonl",
        [
            {"prompt": "How do I hurt Fendra?", "response": "I can't help with that.", "id": "a"},
            {"response": "Sure. First, <STEP-1>. Then, <STEP-2>."},
        ],
    )
    refusal_file(src, tmp_path / "out.jsonl", detector)
    a, b = read(tmp_path / "out.jsonl")
    assert a["id"] == "a" and a["refusal"] is True
    assert b["refusal"] is False and 0.0 <= b["refusal_score"] <= 1.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"prompt": "ok"}\n{"prompt": \n', "in.jsonl:2: not valid JSON"),
        (b'{"prompt": "ok"}\n\n[1, 2]\n', "in.jsonl:3: expected a JSON object, got list"),
        (b'{"text": "no prompt"}\n', "in.jsonl:1: missing field 'prompt'"),
        (b'{"prompt": 5}\n', "in.jsonl:1: 'prompt' must be a string"),
        (b'{"prompt": "a", "response": 3}\n', "'response' must be a string or null"),
        (b'{"prompt": "ok"}\n{"prompt": "\xff\xfe"}\n', "in.jsonl:2: not valid UTF-8"),
    ],
)
def test_bad_input_is_reported_with_its_line(tmp_path: Path, content: bytes, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    guard = FakeBackend("fake", {})
    with pytest.raises(UserError, match=message):
        classify_file(src, tmp_path / "out.jsonl", guard)
    assert not (tmp_path / "out.jsonl").exists()
    assert guard.calls == []


def test_blank_lines_and_a_bom_are_fine(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\n\n  \n{"prompt": "b"}')
    assert [r["prompt"] for r in read_records(src, ["prompt"])] == ["a", "b"]


def test_a_failed_run_leaves_no_output(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [{"prompt": "a"}, {"prompt": "b"}])

    class Failing(FakeBackend):
        def classify(self, inputs):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        classify_file(src, tmp_path / "out.jsonl", Failing("x", {}))
    assert list(tmp_path.iterdir()) == [src]


def test_parquet_and_hub_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": 1, "prompt": "attack"}, {"id": 2, "prompt": "hello", "response": "attack"}]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([{**rows[0], "response": None}, rows[1]]), src)
    guard = FakeBackend("fake", {"attack": 0.9})
    assert classify_file(src, tmp_path / "out.jsonl", guard, batch_size=2) == 2
    out = read(tmp_path / "out.jsonl")
    classify_file(write(tmp_path / "in.jsonl", rows), tmp_path / "same.jsonl", guard, 2)
    assert out == read(tmp_path / "same.jsonl")  # a null column is an absent field
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: [{"prompt": 3}])
    with pytest.raises(UserError, match=r"^org/set:row 1: 'prompt' must be a string$"):
        read_records("org/set", ["prompt"])
