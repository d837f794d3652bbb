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
3. **clusters** — connected components of the accepted pairs (label propagation with
   pointer jumping, in numpy, over the documents in accepted pairs only: this is the one
   step whose memory grows, with the number of near duplicates — about 50 bytes each); the
   first document of a component is kept and the others are near duplicates of it.

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


def _runs_of_equal(keys: np.ndarray, prev: int | None) -> np.ndarray:
    """For each row of a sorted block, the position of the first row of its run of equal
    keys in this block, or -1 when the run began in an earlier block (key == ``prev``)."""
    new = np.ones(len(keys), bool)
    new[1:] = keys[1:] != keys[:-1]
    if prev is not None:
        new[0] = keys[0] != keys.dtype.type(prev)
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


class _Below:
    """Values of a field of sorted blocks, handed out in order: those below a bound."""

    def __init__(self, blocks: Iterator[np.ndarray], name: str) -> None:
        self.blocks, self.name = blocks, name
        self.buf = np.zeros(0, np.int64)
        self.done = False

    def below(self, bound: int) -> np.ndarray:
        while not self.done and (not len(self.buf) or self.buf[-1] < bound):
            block = next(self.blocks, None)
            if block is None:
                self.done = True
            else:
                self.buf = np.concatenate([self.buf, block[self.name]])
        cut = int(np.searchsorted(self.buf, bound, "left"))
        out, self.buf = self.buf[:cut], self.buf[cut:]
        return out


def _exact(hashes: RowReader, work: Path, rows: int, out: RunSorter, heads: RunSorter) -> int:
    """Exact duplicates into ``out``; the kept document of each group into ``heads``."""
    by_hash = RunSorter(work, "exact", _KEY_ROW, rows)
    for start, h in hashes.chunks(rows):
        by_hash.add(_rows(_KEY_ROW, k=h, i=np.arange(start, start + len(h))))
    n_exact = 0
    for idx, head in _group_heads(by_hash):
        dup = head != idx
        n_exact += int(dup.sum())
        out.add(_rows(DUP_ROW, i=idx[dup], of=head[dup], kind=EXACT, sim=1.0))
        heads.add(_rows(_PAIR_ROW, u=np.unique(head[dup]), v=0))
    by_hash.close()
    return n_exact


def _candidates(
    band_keys: RowReader, bands: int, exact: RunSorter, work: Path, rows: int
) -> RunSorter:
    """Candidate pairs (u < v) sharing a band key, sorted and possibly repeated."""
    per_band = [RunSorter(work, f"band{b:03d}", _KEY_ROW, rows // bands) for b in range(bands)]
    dups = _Below(iter(exact), "i")
    for start, keys in band_keys.chunks(max(1, rows // bands)):  # keys: (n, bands)
        index = np.arange(start, start + len(keys))
        keep = ~np.isin(index, dups.below(start + len(keys)))
        for b, sorter in enumerate(per_band):
            sorter.add(_rows(_KEY_ROW, k=keys[keep, b], i=index[keep]))
    pairs = RunSorter(work, "pairs", _PAIR_ROW, rows)
    for sorter in per_band:
        for idx, head in _group_heads(sorter):
            member = head != idx
            pairs.add(_rows(_PAIR_ROW, u=head[member], v=idx[member]))
        sorter.close()
    return pairs


def _accepted(pairs: RunSorter, sigs: RowReader, threshold: float) -> tuple[np.ndarray, ...]:
    """The distinct candidate pairs whose signatures agree on >= ``threshold`` of slots."""
    us, vs = [], []
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
            us.append(cu[ok])
            vs.append(cv[ok])
    pairs.close()
    empty = np.zeros(0, np.int64)
    return (np.concatenate(us) if us else empty), (np.concatenate(vs) if vs else empty)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest index in each connected component, (n,) int64."""
    label = np.arange(n, dtype=np.int64)
    if len(u) == 0:
        return label
    while True:
        m = np.minimum(label[u], label[v])
        before = label.copy()
        np.minimum.at(label, u, m)
        np.minimum.at(label, v, m)
        while True:  # pointer jumping
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label, before):
            return label


def _near(u: np.ndarray, v: np.ndarray, sigs: RowReader, out: RunSorter) -> tuple[int, np.ndarray]:
    """Near duplicates of the accepted pairs into ``out``; returns how many there are and
    the kept document of each cluster (sorted)."""
    nodes = np.unique(np.concatenate([u, v]))
    label = _components(len(nodes), np.searchsorted(nodes, u), np.searchsorted(nodes, v))
    root = nodes[label]
    near = root != nodes
    idx, of = nodes[near], root[near]
    for s in range(0, len(idx), CHUNK):
        ci, co = idx[s : s + CHUNK], of[s : s + CHUNK]
        sim = estimated_jaccard(sigs.take(ci), sigs.take(co)).astype(np.float32)
        out.add(_rows(DUP_ROW, i=ci, of=co, kind=NEAR, sim=sim))
    return len(idx), np.unique(of)


def _distinct(sorter: RunSorter, name: str) -> int:
    """Distinct values of a field of a sorter's (sorted) rows."""
    n, last = 0, None
    for block in sorter:
        values = block[name]
        new = np.ones(len(values), bool)
        new[1:] = values[1:] != values[:-1]
        if last is not None:
            new[0] = int(values[0]) != last
        n += int(new.sum())
        last = int(values[-1])
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
    heads = RunSorter(work, "heads", _PAIR_ROW, rows // 4)
    hashes = RowReader(exact_files, np.uint64)
    n_exact = _exact(hashes, work, rows, out, heads)
    hashes.close()
    clusters = _distinct(heads, "u")
    n_near = 0
    if near and len(hashes):
        band_keys = RowReader(band_files, np.uint64, bands)
        sigs = RowReader(sig_files, np.uint16, num_perm)
        pairs = _candidates(band_keys, bands, out, work, rows)
        band_keys.close()
        u, v = _accepted(pairs, sigs, threshold)
        n_near, roots = _near(u, v, sigs, out)
        sigs.close()
        exact_heads = _Below(iter(heads), "u")
        both = 0
        for s in range(0, len(roots), CHUNK):
            chunk = roots[s : s + CHUNK]
            upto = int(chunk[-1]) + 1 if s + CHUNK >= len(roots) else int(roots[s + CHUNK])
            both += int(np.isin(chunk, exact_heads.below(upto)).sum())
        clusters += len(roots) - both
    heads.close()
    return Duplicates(n_exact, n_near, clusters, out)
