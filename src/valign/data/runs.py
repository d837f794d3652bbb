"""Sorting more rows than fit in memory: sorted runs on disk, merged while reading.

The duplicate merge groups every document's hashes by value. Holding them all would make
its memory grow with the corpus, so rows go to a :class:`RunSorter` instead: it keeps at
most ``chunk_rows`` rows, sorts them and writes them to a run file when the buffer is full;
reading merges the runs block by block (each run contributes a bounded buffer), so memory
stays fixed however many rows were added.

Rows are numpy structured arrays whose first two fields are the sort key (primary,
secondary; integers). The merge takes, from every run's buffer, the rows up to the smallest
"last row" of the runs that still have rows on disk — every row that can come before
anything not yet read — so the blocks it yields are in order and a run of equal primary
keys may span blocks. With more runs than :data:`FAN_IN`, runs are first merged in groups.
:class:`RowReader` reads single rows of fixed-width tables by index (``pread``, no memory
map, so random reads do not pull whole pages of the file into the process).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Runs merged at once; more are first merged in groups into longer runs.
FAN_IN = 64
#: Smallest buffer a run gets while merging.
MIN_BLOCK = 4096
_SERIAL = itertools.count()  # sorters sharing a folder and a name get different files


def _keys(dtype: np.dtype) -> tuple[str, str]:
    """The two sort fields of a row type."""
    names = dtype.names or ()
    if len(names) < 2:
        raise ValueError("sorted rows need a structured type with at least two fields")
    return names[0], names[1]


def _order(rows: np.ndarray) -> np.ndarray:
    k1, k2 = _keys(rows.dtype)
    return np.lexsort((rows[k2], rows[k1]))


class _Run:
    """A sorted run file read a buffer at a time."""

    def __init__(self, path: Path, dtype: np.dtype, block_rows: int) -> None:
        self.fh = path.open("rb")
        self.dtype, self.block_rows = dtype, block_rows
        self.buf = np.zeros(0, dtype)
        self.eof = False
        self.fill()

    def fill(self) -> None:
        if self.eof or len(self.buf) >= self.block_rows // 2:
            return
        more = np.fromfile(self.fh, self.dtype, self.block_rows)
        if len(more) < self.block_rows:
            self.eof = True
            self.fh.close()
        self.buf = np.concatenate([self.buf, more]) if len(self.buf) else more

    def last(self) -> tuple[int, int]:
        k1, k2 = _keys(self.dtype)
        row = self.buf[-1]
        return int(row[k1]), int(row[k2])

    def take_upto(self, bound: tuple[int, int] | None) -> np.ndarray:
        """Remove and return the buffered rows <= ``bound`` (all of them for None)."""
        if bound is None:
            cut = len(self.buf)
        else:
            k1, k2 = _keys(self.dtype)
            a = self.buf[k1]
            b1 = a.dtype.type(bound[0])
            lo, hi = np.searchsorted(a, b1, "left"), np.searchsorted(a, b1, "right")
            b2 = self.buf[k2].dtype.type(bound[1])
            cut = int(lo + np.searchsorted(self.buf[k2][lo:hi], b2, "right"))
        out, self.buf = self.buf[:cut], self.buf[cut:]
        self.fill()
        return out


def merge_runs(paths: list[Path], dtype: np.dtype, block_rows: int) -> Iterator[np.ndarray]:
    """Sorted blocks of the rows of sorted run files."""
    runs = [_Run(p, dtype, block_rows) for p in paths]
    while True:
        live = [r for r in runs if len(r.buf)]
        if not live:
            return
        pending = [r.last() for r in live if not r.eof]
        bound = min(pending) if pending else None
        block = np.concatenate([r.take_upto(bound) for r in live])
        yield block[_order(block)]


class RunSorter:
    """Rows added in any order, read back sorted by their first two fields.

    Args:
        folder: Where run files go (created); :meth:`close` deletes them.
        name: Prefix of the run files (a serial number keeps sorters apart).
        dtype: Structured row type; fields 0 and 1 are the sort key.
        chunk_rows: Rows held in memory before a run is written (the memory bound).
    """

    def __init__(self, folder: Path, name: str, dtype: Any, chunk_rows: int) -> None:
        self.folder, self.name = folder, f"{name}-{next(_SERIAL):05d}"
        self.dtype = np.dtype(dtype)
        self.chunk_rows = max(MIN_BLOCK, chunk_rows)
        self.runs: list[Path] = []
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.rows = 0
        self.files = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        self.buffer.append(rows.astype(self.dtype, copy=False))
        self.buffered += len(rows)
        self.rows += len(rows)
        if self.buffered >= self.chunk_rows:
            self._spill()

    def _new_path(self) -> Path:
        self.files += 1
        return self.folder / f"{self.name}-{self.files:06d}.run"

    def _spill(self) -> None:
        if not self.buffered:
            return
        rows = np.concatenate(self.buffer)
        self.buffer, self.buffered = [], 0
        path = self._new_path()
        rows[_order(rows)].tofile(path)
        self.runs.append(path)

    def _block_rows(self, n_runs: int) -> int:
        return max(MIN_BLOCK, self.chunk_rows // max(n_runs, 1))

    def _reduce(self) -> None:
        """Merge groups of runs until at most FAN_IN remain."""
        while len(self.runs) > FAN_IN:
            merged: list[Path] = []
            for g in range(0, len(self.runs), FAN_IN):
                group = self.runs[g : g + FAN_IN]
                path = self._new_path()
                with path.open("wb") as fh:
                    for block in merge_runs(group, self.dtype, self._block_rows(len(group))):
                        block.tofile(fh)
                for p in group:
                    p.unlink()
                merged.append(path)
            self.runs = merged

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every row added so far, in sorted blocks (rows may still be added afterwards)."""
        self._spill()
        self._reduce()
        yield from merge_runs(self.runs, self.dtype, self._block_rows(len(self.runs)))

    def close(self) -> None:
        for p in self.runs:
            p.unlink(missing_ok=True)
        self.runs, self.buffer, self.buffered = [], [], 0


class RowReader:
    """Rows of a fixed-width table stored as consecutive raw files (one per piece), read
    by global index with ``pread``."""

    def __init__(self, files: list[Path], dtype: Any, columns: int = 1) -> None:
        self.dtype, self.columns = np.dtype(dtype), columns
        self.row_bytes = self.dtype.itemsize * columns
        sizes = [f.stat().st_size // self.row_bytes for f in files]
        self.starts = np.cumsum([0, *sizes])
        self.fds = [os.open(f, os.O_RDONLY) for f in files]

    def __len__(self) -> int:
        return int(self.starts[-1])

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows at global ``index``, (len(index), columns) (or (len(index),) for 1 column)."""
        uniq, inverse = np.unique(np.asarray(index, np.int64), return_inverse=True)
        piece = np.searchsorted(self.starts, uniq, side="right") - 1
        offset = (uniq - self.starts[piece]) * self.row_bytes
        rb, fds = self.row_bytes, self.fds
        raw = b"".join(
            os.pread(fds[p], rb, o) for p, o in zip(piece.tolist(), offset.tolist(), strict=True)
        )
        rows = np.frombuffer(raw, self.dtype).reshape(len(uniq), self.columns)
        out = rows[inverse]
        return out[:, 0] if self.columns == 1 else out

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first global index, rows) of the whole table in order, ``rows`` at a time."""
        start = 0
        for fd in self.fds:
            pos = 0
            while True:
                raw = os.pread(fd, rows * self.row_bytes, pos)
                if not raw:
                    break
                pos += len(raw)
                arr = np.frombuffer(raw, self.dtype).reshape(-1, self.columns)
                yield start, arr[:, 0] if self.columns == 1 else arr
                start += len(arr)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
