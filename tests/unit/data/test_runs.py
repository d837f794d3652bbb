"""Sorting with a fixed memory budget: sorted runs on disk, merged while reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from valign.data import runs
from valign.data.runs import RowReader, RunSorter

ROW = np.dtype([("k", np.uint64), ("i", np.int64), ("x", np.float32)])


@pytest.mark.parametrize("fan_in", [64, 3])
def test_runs_merge_into_one_sorted_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fan_in: int
) -> None:
    monkeypatch.setattr(runs, "FAN_IN", fan_in)
    rng = np.random.default_rng(1)
    n = 60_000
    rows = np.empty(n, ROW)
    rows["k"] = rng.integers(0, 300, n).astype(np.uint64) * np.uint64(2**60 // 300)
    rows["i"] = rng.permutation(n)
    rows["x"] = rng.random(n)
    sorter = RunSorter(tmp_path, "t", ROW, chunk_rows=5_000)
    for part in np.array_split(rows, 17):
        sorter.add(part)
    assert len(sorter.runs) >= 5
    got = np.concatenate(list(sorter))
    expect = rows[np.lexsort((rows["i"], rows["k"]))]
    assert np.array_equal(got, expect)
    sorter.add(rows[:10])  # rows may be added after reading
    assert sum(len(b) for b in sorter) == n + 10
    sorter.close()
    assert not list(tmp_path.glob("t-*"))


def test_row_reader_takes_rows_across_files(tmp_path: Path) -> None:
    table = np.arange(50 * 4, dtype=np.uint16).reshape(50, 4)
    files = []
    for j, part in enumerate(np.array_split(table, 3)):
        files.append(tmp_path / f"p{j}.u16")
        part.tofile(files[-1])
    reader = RowReader(files, np.uint16, 4)
    assert len(reader) == 50
    index = np.array([49, 0, 17, 17, 33])
    assert np.array_equal(reader.take(index), table[index])
    assert np.array_equal(np.concatenate([c for _, c in reader.chunks(7)]), table)
    assert [s for s, _ in reader.chunks(100)] == [0, 17, 34]
    reader.close()
