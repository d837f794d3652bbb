"""Exact and near duplicates across a whole corpus, from per-piece hash files, in fixed memory.

The scan (one process per piece) writes, for each document in order, its exact hash, its
LSH band keys and its compact MinHash signature (:mod:`valign.data.minhash`) to raw binary
files. This merge reads them back in chunks and groups them with sorts that spill to run
files in the work folder (:class:`valign.data.runs.RunSorter`), so the documents are never
needed again and its memory is set by ``memory_mb``, not by the number of documents:

1. **exact** — sort (exact hash, index); in each run of equal hashes the first document (in
   corpus order) is kept and the others are exact duplicates of it;
2. **near** — for each band, sort (key, index) of the documents that are not exact
   duplicates; within a run of equal keys each document is a candidate pair with the run's
   first; the pairs are sorted, deduplicated and checked on their signatures (estimated
   Jaccard >= threshold, signatures read by index from disk);
3. **clusters** — connected components of the accepted pairs, over sorted runs too
   (pointer jumping and hooking of stars, :func:`_components`); the first document of a
   component is kept and the others are near duplicates of it.

The result is a stream of rows ``(index, of, kind, similarity)`` in corpus order, one per
duplicate document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from valign.data.minhash import estimated_jaccard
from valign.data.runs import RowReader, RunSorter

NONE, EXACT, NEAR = 0, 1, 2
#: One row per duplicate document, sorted by ``i`` (then ``of``).
DUP_ROW = np.dtype([("i", np.int64), ("of", np.int64), ("kind", np.uint8), ("sim", np.float32)])
_KEY_ROW = np.dtype([("k", np.uint64), ("i", np.int64)])
_PAIR_ROW = np.dtype([("u", np.int64), ("v", np.int64)])
_LABEL_ROW = np.dtype([("x", np.int64), ("l", np.int64)])  # document, its label
#: Rows checked or written per step.
CHUNK = 65_536


@dataclass
class Duplicates:
    """The duplicate documents of a corpus (global indices in corpus order)."""

    n_exact: int
    n_near: int
    clusters: int
    sorter: RunSorter = field(repr=False)

    def rows(self) -> Iterator[np.ndarray]:
        """Blocks of :data:`DUP_ROW` rows in corpus order."""
        return iter(self.sorter)

    def close(self) -> None:
        self.sorter.close()


def _rows(dtype: np.dtype, **columns: Any) -> np.ndarray:
    out = np.empty(len(next(iter(columns.values()))), dtype)
    for name, values in columns.items():
        out[name] = values
    return out


def _run_starts(keys: np.ndarray, prev: int | None) -> np.ndarray:
    """Which rows of a sorted block begin a run of equal keys (the first row does unless
    its key is ``prev``, the last key of the block before)."""
    new = np.ones(len(keys), bool)
    new[1:] = keys[1:] != keys[:-1]
    if prev is not None:
        new[0] = keys[0] != keys.dtype.type(prev)
    return new


def _runs_of_equal(keys: np.ndarray, prev: int | None) -> np.ndarray:
    """For each row of a sorted block, the position of the first row of its run of equal
    keys in this block, or -1 when the run began in an earlier block (key == ``prev``)."""
    new = _run_starts(keys, prev)
    return np.maximum.accumulate(np.where(new, np.arange(len(keys)), -1))


def _group_heads(sorter: RunSorter) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(index, index of the first row with the same key) for every row, block by block."""
    prev_key: int | None = None
    prev_head = -1
    for block in sorter:
        keys, idx = block["k"], block["i"]
        pos = _runs_of_equal(keys, prev_key)
        head = np.where(pos >= 0, idx[np.maximum(pos, 0)], prev_head)
        prev_key, prev_head = int(keys[-1]), int(head[-1])
        yield idx, head


class _Window:
    """The rows of sorted blocks seen through a window on their first field, moving
    forward: :meth:`rows` drops the rows below ``lo`` and reads until past ``hi``."""

    def __init__(self, blocks: Iterator[np.ndarray], dtype: np.dtype) -> None:
        self.blocks, self.key = blocks, (dtype.names or ("",))[0]
        self.buf = np.zeros(0, dtype)
        self.done = False

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows with ``lo <= key <= hi``."""
        keys = self.buf[self.key]
        self.buf = self.buf[np.searchsorted(keys, keys.dtype.type(lo), "left") :]
        while not self.done and (not len(self.buf) or self.buf[self.key][-1] <= hi):
            block = next(self.blocks, None)
            if block is None:
                self.done = True
            else:
                self.buf = np.concatenate([self.buf, block])
        keys = self.buf[self.key]
        return self.buf[: np.searchsorted(keys, keys.dtype.type(hi), "right")]


def _exact(hashes: RowReader, work: Path, rows: int, out: RunSorter, kept: RunSorter) -> int:
    """Exact duplicates into ``out`` (and the document each one duplicates into ``kept``)."""
    by_hash = RunSorter(work, "exact", _KEY_ROW, rows)
    for start, h in hashes.chunks(rows):
        by_hash.add(_rows(_KEY_ROW, k=h, i=np.arange(start, start + len(h))))
    n_exact = 0
    for idx, head in _group_heads(by_hash):
        dup = head != idx
        n_exact += int(dup.sum())
        out.add(_rows(DUP_ROW, i=idx[dup], of=head[dup], kind=EXACT, sim=1.0))
        kept.add(_rows(_PAIR_ROW, u=head[dup], v=idx[dup]))
    by_hash.close()
    return n_exact


def _candidates(
    band_keys: RowReader, bands: int, exact: RunSorter, work: Path, rows: int
) -> RunSorter:
    """Candidate pairs (u < v) sharing a band key, sorted and possibly repeated."""
    per_band = [RunSorter(work, f"band{b:03d}", _KEY_ROW, rows // bands) for b in range(bands)]
    dups = _Window(iter(exact), DUP_ROW)
    for start, keys in band_keys.chunks(max(1, rows // bands)):  # keys: (n, bands)
        index = np.arange(start, start + len(keys))
        keep = ~np.isin(index, dups.rows(start, start + len(keys) - 1)["i"])
        for b, sorter in enumerate(per_band):
            sorter.add(_rows(_KEY_ROW, k=keys[keep, b], i=index[keep]))
    pairs = RunSorter(work, "pairs", _PAIR_ROW, rows)
    for sorter in per_band:
        for idx, head in _group_heads(sorter):
            member = head != idx
            pairs.add(_rows(_PAIR_ROW, u=head[member], v=idx[member]))
        sorter.close()
    return pairs


def _accepted(
    pairs: RunSorter, sigs: RowReader, threshold: float, work: Path, rows: int
) -> RunSorter:
    """The distinct candidate pairs whose signatures agree on >= ``threshold`` of slots,
    both ways round: ``(u, v)`` and ``(v, u)``, sorted (the graph's adjacency lists)."""
    edges = RunSorter(work, "edges", _PAIR_ROW, rows)
    last: tuple[int, int] | None = None
    for block in pairs:
        u, v = block["u"], block["v"]
        new = np.ones(len(u), bool)
        new[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        if last is not None:
            new[0] = (int(u[0]), int(v[0])) != last
        last = int(u[-1]), int(v[-1])
        u, v = u[new], v[new]
        for s in range(0, len(u), CHUNK):
            cu, cv = u[s : s + CHUNK], v[s : s + CHUNK]
            ok = estimated_jaccard(sigs.take(cu), sigs.take(cv)) >= threshold
            edges.add(_rows(_PAIR_ROW, u=cu[ok], v=cv[ok]))
            edges.add(_rows(_PAIR_ROW, u=cv[ok], v=cu[ok]))
    pairs.close()
    return edges


def _lookup(
    blocks: Iterator[np.ndarray], key: str, labels: RunSorter
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For blocks sorted by ``key``, the label of each row's ``key`` (every one has one)."""
    window = _Window(iter(labels), _LABEL_ROW)
    for block in blocks:
        keys = block[key]
        rows = window.rows(int(keys[0]), int(keys[-1]))
        yield block, rows["l"][np.searchsorted(rows["x"], keys)]


def _first_per_key(labels_in: RunSorter, out: RunSorter) -> int:
    """Into ``out`` the first row of each run of equal ``x`` (its smallest label); returns
    the sum of those labels."""
    total, last = 0, None
    for block in labels_in:
        new = _run_starts(block["x"], last)
        last = int(block["x"][-1])
        out.add(block[new])
        total += int(block["l"][new].sum())
    return total


def _jump(labels: RunSorter, work: Path, rows: int) -> tuple[RunSorter, int]:
    """Every label replaced by its label's label (pointer jumping; a sort by label);
    returns the new labels and their sum. ``labels`` is closed."""
    by_label = RunSorter(work, "bylabel", _LABEL_ROW, rows)  # (label, document)
    for block in labels:
        by_label.add(_rows(_LABEL_ROW, x=block["l"], l=block["x"]))
    jumped = RunSorter(work, "labels", _LABEL_ROW, rows)
    total = 0
    for block, label in _lookup(iter(by_label), "x", labels):
        jumped.add(_rows(_LABEL_ROW, x=block["l"], l=label))
        total += int(label.sum())
    by_label.close()
    labels.close()
    return jumped, total


def _components(edges: RunSorter, work: Path, rows: int) -> RunSorter:
    """``(x, l)`` for every document with an edge: ``l`` is the smallest document of its
    connected component. Labels only decrease; every step is a sort:

    1. each document starts with the smaller of itself and its smallest neighbour;
    2. pointer jumping until every label is a root (labels its own label): the components
       found so far are stars;
    3. hooking: each root takes the smallest label seen across an edge leaving its star;
       every star without a smaller neighbour absorbs its neighbours, so the number of
       stars at least halves per round; back to 2 until no label changes.
    """
    first = RunSorter(work, "labels", _LABEL_ROW, rows)
    for block in edges:
        first.add(_rows(_LABEL_ROW, x=block["u"], l=np.minimum(block["u"], block["v"])))
    labels = RunSorter(work, "labels", _LABEL_ROW, rows)
    total = _first_per_key(first, labels)
    first.close()
    while True:
        while True:  # 2. pointer jumping to stars
            labels, now = _jump(labels, work, rows)
            if now == total:
                break
            total = now
        across = RunSorter(work, "across", _LABEL_ROW, rows)  # (v, label of u) per edge
        for block, label in _lookup(iter(edges), "u", labels):
            across.add(_rows(_LABEL_ROW, x=block["v"], l=label))
        hooks = RunSorter(work, "hooks", _LABEL_ROW, rows)  # (root of v, label of u)
        for block, root in _lookup(iter(across), "x", labels):
            hooks.add(_rows(_LABEL_ROW, x=root, l=block["l"]))
        across.close()
        for block in labels:
            hooks.add(block)
        labels.close()
        labels = RunSorter(work, "labels", _LABEL_ROW, rows)
        now = _first_per_key(hooks, labels)
        hooks.close()
        if now == total:  # 3. no root took a smaller label: done
            edges.close()
            return labels
        total = now


def _near(labels: RunSorter, sigs: RowReader, out: RunSorter, kept: RunSorter) -> int:
    """Near duplicates (a label other than itself) into ``out``; returns how many."""
    n = 0
    for block in labels:
        near = block["x"] != block["l"]
        idx, of = block["x"][near], block["l"][near]
        for s in range(0, len(idx), CHUNK):
            ci, co = idx[s : s + CHUNK], of[s : s + CHUNK]
            sim = estimated_jaccard(sigs.take(ci), sigs.take(co)).astype(np.float32)
            out.add(_rows(DUP_ROW, i=ci, of=co, kind=NEAR, sim=sim))
            kept.add(_rows(_PAIR_ROW, u=co, v=ci))
        n += len(idx)
    labels.close()
    return n


def _distinct(sorter: RunSorter, name: str) -> int:
    """Distinct values of a field of a sorter's (sorted) rows."""
    n, last = 0, None
    for block in sorter:
        n += int(_run_starts(block[name], last).sum())
        last = int(block[name][-1])
    return n


def find_duplicates(
    exact_files: list[Path],
    band_files: list[Path],
    sig_files: list[Path],
    threshold: float,
    bands: int,
    num_perm: int,
    near: bool = True,
    work: Path | None = None,
    memory_mb: float = 256,
) -> Duplicates:
    """Exact and near duplicates over pieces given in corpus order.

    ``work`` holds the sorted runs (default: next to the first hash file); ``memory_mb``
    bounds the rows the sorts hold (each sort row is 16 bytes; a sort needs about three
    times its rows while it sorts).
    """
    work = work or exact_files[0].parent / "merge"
    rows = max(1, int(memory_mb * 2**20 / (16 * 3 * 2)))  # two sorters fill at a time
    out = RunSorter(work, "duplicates", DUP_ROW, rows // 4)
    kept = RunSorter(work, "kept", _PAIR_ROW, rows // 4)  # (kept document, duplicate)
    hashes = RowReader(exact_files, np.uint64)
    n_exact = _exact(hashes, work, rows, out, kept)
    hashes.close()
    n_near = 0
    if near and len(hashes):
        band_keys = RowReader(band_files, np.uint64, bands)
        sigs = RowReader(sig_files, np.uint16, num_perm)
        pairs = _candidates(band_keys, bands, out, work, rows)
        band_keys.close()
        edges = _accepted(pairs, sigs, threshold, work, rows)
        n_near = _near(_components(edges, work, rows), sigs, out, kept)
        sigs.close()
    clusters = _distinct(kept, "u")
    kept.close()
    return Duplicates(n_exact, n_near, clusters, out)
