"""Exact and near duplicates across a whole corpus, from per-shard hash files.

The scan (one process per piece) writes, for each document in order, its exact hash, its
LSH band keys and its compact MinHash signature (:mod:`valign.data.minhash`) to raw
binary files (:func:`open_table` reads them). This merge reads them back with memory
maps, one column at a time, so the documents themselves are never needed again and
memory grows by a few bytes per document, not by the corpus's size:

1. **exact** — sort the exact hashes; in each run of equal hashes the first document (in
   corpus order) is kept and the others are exact duplicates of it;
2. **near** — for each band, sort the keys of the documents that are not exact duplicates;
   within a run of equal keys each document is a candidate pair with the run's first;
   pairs are checked on their signatures (estimated Jaccard >= threshold);
3. **clusters** — connected components of the accepted pairs (label propagation with
   pointer jumping, in numpy); the first document of a component is kept and the others
   are near duplicates of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from valign.data.minhash import estimated_jaccard

NONE, EXACT, NEAR = 0, 1, 2


@dataclass
class Duplicates:
    """For every document (global index in corpus order): what kind of duplicate it is and
    which document it duplicates (itself when it is kept)."""

    kind: np.ndarray  # (n,) uint8: NONE, EXACT or NEAR
    of: np.ndarray  # (n,) int64: index of the kept document of its cluster
    similarity: np.ndarray  # (n,) float32: estimated Jaccard with ``of`` (1 for exact)

    @property
    def n_exact(self) -> int:
        return int((self.kind == EXACT).sum())

    @property
    def n_near(self) -> int:
        return int((self.kind == NEAR).sum())


DTYPES = {".u64": np.uint64, ".i64": np.int64, ".u16": np.uint16}


def open_table(path: Path, columns: int = 0) -> np.ndarray:
    """Memory-map a raw file written by the scan: (n,) or (n, columns); dtype from suffix."""
    dtype = DTYPES[path.suffix]
    if path.stat().st_size == 0:
        return np.zeros((0, columns) if columns else 0, dtype)
    arr = np.memmap(path, dtype=dtype, mode="r")
    return arr.reshape(-1, columns) if columns else arr


def _concat(files: list[Path], columns: int = 0, column: int | None = None) -> np.ndarray:
    parts = []
    for f in files:
        arr = open_table(f, columns)
        parts.append(np.array(arr if column is None else arr[:, column]))
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


class _Signatures:
    """Random access to the compact signatures of every piece by global index."""

    def __init__(self, files: list[Path], num_perm: int) -> None:
        self.num_perm = num_perm
        self.maps = [open_table(f, num_perm) for f in files]
        self.starts = np.cumsum([0] + [len(m) for m in self.maps])

    def take(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), self.num_perm), np.uint16)
        shard = np.searchsorted(self.starts, index, side="right") - 1
        for s in np.unique(shard):
            rows = shard == s
            out[rows] = self.maps[s][index[rows] - self.starts[s]]
        return out


def exact_duplicates(hashes: np.ndarray) -> np.ndarray:
    """Index of the first document with the same hash, for every document, (n,) int64."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    new_run = np.ones(len(order), bool)
    new_run[1:] = sorted_h[1:] != sorted_h[:-1]
    run_first = order[np.maximum.accumulate(np.where(new_run, np.arange(len(order)), 0))]
    first = np.empty(len(order), np.int64)
    first[order] = run_first
    return first


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


def find_duplicates(
    exact_files: list[Path],
    band_files: list[Path],
    sig_files: list[Path],
    threshold: float,
    bands: int,
    num_perm: int,
    near: bool = True,
) -> Duplicates:
    """Exact and near duplicates over pieces given in corpus order."""
    hashes = _concat(exact_files)
    n = len(hashes)
    first = exact_duplicates(hashes) if n else np.zeros(0, np.int64)
    del hashes
    kind = np.where(first != np.arange(n), EXACT, NONE).astype(np.uint8)
    of = first.copy()
    similarity = np.where(kind == EXACT, 1.0, 0.0).astype(np.float32)
    if not near or n == 0:
        return Duplicates(kind, of, similarity)
    unique = np.flatnonzero(kind == NONE)
    sigs = _Signatures(sig_files, num_perm)
    pairs = np.zeros((0, 2), np.int64)
    for band in range(bands):
        keys = _concat(band_files, bands, band)[unique]
        order = np.argsort(keys, kind="stable")
        k = keys[order]
        new_run = np.ones(len(k), bool)
        new_run[1:] = k[1:] != k[:-1]
        head = order[np.maximum.accumulate(np.where(new_run, np.arange(len(k)), 0))]
        member = ~new_run
        cand = np.stack([unique[head[member]], unique[order[member]]], axis=1)
        pairs = np.unique(np.concatenate([pairs, cand]), axis=0)
    accepted_u, accepted_v = [], []
    for start in range(0, len(pairs), 200_000):
        chunk = pairs[start : start + 200_000]
        est = estimated_jaccard(sigs.take(chunk[:, 0]), sigs.take(chunk[:, 1]))
        keep = est >= threshold
        accepted_u.append(chunk[keep, 0])
        accepted_v.append(chunk[keep, 1])
    u = np.concatenate(accepted_u) if accepted_u else np.zeros(0, np.int64)
    v = np.concatenate(accepted_v) if accepted_v else np.zeros(0, np.int64)
    label = _components(n, u, v)
    near_dup = (label != np.arange(n)) & (kind == NONE)
    kind[near_dup] = NEAR
    of[near_dup] = label[near_dup]
    idx = np.flatnonzero(near_dup)
    for start in range(0, len(idx), 200_000):
        chunk = idx[start : start + 200_000]
        similarity[chunk] = estimated_jaccard(sigs.take(chunk), sigs.take(of[chunk]))
    return Duplicates(kind, of, similarity)
