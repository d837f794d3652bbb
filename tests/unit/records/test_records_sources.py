"""valign.records.sources: one way in for every data input (JSONL, Parquet, hub ids)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from valign.errors import UserError
from valign.records.sources import is_hub_id, iter_rows, source_stem
from valign.records.tasks import load_items


def _parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_jsonl_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2}\n', encoding="utf-8")
    assert list(iter_rows(path)) == [(f"{path}:1", {"x": 1}), (f"{path}:3", {"x": 2})]
    path.write_bytes(b'{"x": 1}\n{"x": "\xff"}\n')
    with pytest.raises(UserError, match=r"a.jsonl:2: not UTF-8 text$"):
        list(iter_rows(path))


def test_parquet_rows_leave_out_null_fields(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "t.parquet", [{"x": 1, "y": "a"}, {"x": 2}])
    assert list(iter_rows(path)) == [
        (f"{path}:row 1", {"x": 1, "y": "a"}),
        (f"{path}:row 2", {"x": 2}),
    ]
    with pytest.raises(UserError, match=r"^prompt file not found: "):
        list(iter_rows(tmp_path / "none.parquet", "prompt file"))
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    with pytest.raises(UserError, match="not a readable Parquet file"):
        list(iter_rows(bad))


def test_hub_ids_go_through_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls: list[tuple[str, str]] = []

    def fake_load_dataset(name: str, split: str) -> list[dict[str, Any]]:
        calls.append((name, split))
        return [{"prompt": "Hi", "extra": None}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert list(iter_rows("org/set:test")) == [("org/set:test:row 1", {"prompt": "Hi"})]
    list(iter_rows("org/set"))
    assert calls == [("org/set", "test"), ("org/set", "train")]


def test_an_unreachable_hub_id_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(name: str, split: str) -> None:
        raise ConnectionError("offline\nmore")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match=r"^org/set: no such file, .*\(offline\)$"):
        list(iter_rows("org/set"))


@pytest.mark.parametrize(
    ("spec", "hub"),
    [
        ("org/name", True),
        ("org/name:test", True),
        ("runs/eval.jsonl", False),  # a missing file, not a dataset
        ("data/prefs.parquet", False),
        ("./org/name", False),
        ("/abs/name", False),
        ("name", False),
        ("a/b/c", False),
    ],
)
def test_what_reads_as_a_hub_id(spec: str, hub: bool) -> None:
    assert is_hub_id(spec) is hub


def test_source_stems() -> None:
    assert source_stem("org/name:test") == "org-name"
    assert source_stem(Path("x/demos.jsonl")) == "demos"


def test_a_saved_dataset_folder_is_read(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "saved"
    datasets.Dataset.from_list([{"prompt": "a"}, {"prompt": "b"}]).save_to_disk(str(folder))
    assert [row for _, row in iter_rows(folder)] == [{"prompt": "a"}, {"prompt": "b"}]


def test_task_files_can_be_parquet(tmp_path: Path) -> None:
    row = {
        "id": "t1",
        "kind": "benign",
        "messages": [{"role": "user", "content": "What is 1 plus 1?"}],
        "answers": ["2"],
    }
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(json.dumps(row) + "\n", encoding="utf-8")
    parquet = _parquet(tmp_path / "t.parquet", [row])
    assert load_items(parquet) == load_items(jsonl)
