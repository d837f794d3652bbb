"""MinHash signatures and the duplicate merge across pieces."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from valign.data import dedup, runs
from valign.data.dedup import EXACT, NEAR, NONE, Duplicates, find_duplicates
from valign.data.minhash import MinHashConfig, MinHasher, compact, estimated_jaccard

BASE = (
    "The market hall in Velford will close for repairs to its roof from the first of the "
    "month, and traders may set up their stalls on the green instead while the builders work."
)


def test_signature_estimates_jaccard() -> None:
    h = MinHasher(MinHashConfig())
    a = h.signature(BASE)
    b = h.signature(BASE + " Posted by the town clerk.")
    c = h.signature("An entirely different text about boats, rivers and the sea in spring time.")
    assert estimated_jaccard(a, a) == 1.0
    assert estimated_jaccard(a, b) > 0.7
    assert estimated_jaccard(a, c) < 0.1
    assert np.array_equal(a, MinHasher(MinHashConfig()).signature(BASE))  # stable


def test_exact_hash_ignores_case_and_spacing() -> None:
    assert MinHasher.exact_hash("Hello  World\n") == MinHasher.exact_hash("hello world")
    assert MinHasher.exact_hash("hello world") != MinHasher.exact_hash("hello worlds")


def _dense(d: Duplicates, n: int) -> tuple[list[int], list[int], np.ndarray]:
    """Per document: kind, the document it duplicates (itself when kept), similarity."""
    kind, of, sim = np.zeros(n, np.uint8), np.arange(n), np.zeros(n, np.float32)
    for block in d.rows():
        kind[block["i"]], of[block["i"]], sim[block["i"]] = block["kind"], block["of"], block["sim"]
    return kind.tolist(), of.tolist(), sim


def _exact_files(tmp_path: Path, hashes: list[int], pieces: int) -> list[Path]:
    files = []
    for i, part in enumerate(np.array_split(np.array(hashes, np.uint64), pieces)):
        files.append(tmp_path / f"exact-{i}.u64")
        files[-1].write_bytes(part.tobytes())
    return files


def test_exact_duplicates_point_at_the_first(tmp_path: Path) -> None:
    files = _exact_files(tmp_path, [5, 7, 5, 9, 7, 5], 2)
    d = find_duplicates(files, [], [], 0.8, 16, 128, near=False)
    assert _dense(d, 6)[:2] == ([0, 0, 1, 0, 1, 1], [0, 1, 0, 3, 1, 0])
    assert (d.n_exact, d.n_near, d.clusters) == (3, 0, 2)


def test_exact_duplicates_spill_to_sorted_runs(tmp_path: Path) -> None:
    """With a tiny memory budget the sorts spill to many runs and give the same answer."""
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**64, 5_000, dtype=np.uint64)[rng.integers(0, 2_000, 50_000)]
    files = _exact_files(tmp_path, hashes.tolist(), 3)
    d = find_duplicates(files, [], [], 0.8, 16, 128, near=False, memory_mb=0.2)
    _, of, _ = _dense(d, len(hashes))
    first: dict[int, int] = {}
    expect = [first.setdefault(int(h), i) for i, h in enumerate(hashes)]
    assert of == expect
    assert d.n_exact == len(hashes) - len(first) and d.clusters == len(first)
    assert not any((tmp_path / "merge").glob("exact-*"))  # spent runs are deleted


def _write(work: Path, index: int, texts: list[str], h: MinHasher) -> None:
    sig = np.stack([h.signature(t) for t in texts])
    (work / f"exact-{index}.u64").write_bytes(
        np.array([h.exact_hash(t) for t in texts], np.uint64).tobytes()
    )
    (work / f"bands-{index}.u64").write_bytes(h.band_keys(sig).tobytes())
    (work / f"sig-{index}.u16").write_bytes(compact(sig).tobytes())


def test_find_duplicates_across_pieces(tmp_path: Path) -> None:
    cfg = MinHashConfig()
    h = MinHasher(cfg)
    near = BASE.replace("builders", "workers")
    other = "Completely unrelated words about a lighthouse keeper and her three cats at dawn."
    _write(tmp_path, 0, [BASE, other, BASE.upper()], h)
    _write(tmp_path, 1, [near, "short text", other], h)
    files = [
        [tmp_path / f"{k}-{i}.{s}" for i in (0, 1)]
        for k, s in (("exact", "u64"), ("bands", "u64"), ("sig", "u16"))
    ]
    d = find_duplicates(*files, threshold=0.8, bands=cfg.bands, num_perm=cfg.num_perm)
    kind, of, sim = _dense(d, 6)
    assert kind == [NONE, NONE, EXACT, NEAR, NONE, EXACT]
    assert of == [0, 1, 0, 0, 4, 1]
    assert sim[3] >= 0.8
    assert (d.n_exact, d.n_near, d.clusters) == (2, 1, 2)
    none = find_duplicates(
        *files, threshold=0.8, bands=cfg.bands, num_perm=cfg.num_perm, near=False
    )
    assert none.n_near == 0 and none.n_exact == 2


def test_near_duplicates_do_not_depend_on_the_memory_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small runs (a budget of a few hundred rows) give the in-memory answer."""
    monkeypatch.setattr(runs, "MIN_BLOCK", 16)
    cfg = MinHashConfig()
    h = MinHasher(cfg)
    rng = np.random.default_rng(3)
    words = BASE.split()
    texts = []
    for _ in range(600):
        w = list(words)
        w[int(rng.integers(len(w)))] = f"w{rng.integers(40)}"
        if rng.random() < 0.5:
            w = [f"x{rng.integers(10_000)}" if rng.random() < 0.5 else x for x in w]
        texts.append(" ".join(w))
    for i in range(3):
        _write(tmp_path, i, texts[i * 200 : (i + 1) * 200], h)
    files = [
        [tmp_path / f"{k}-{i}.{s}" for i in range(3)]
        for k, s in (("exact", "u64"), ("bands", "u64"), ("sig", "u16"))
    ]
    big = find_duplicates(*files, 0.8, cfg.bands, cfg.num_perm, work=tmp_path / "a")
    small = find_duplicates(
        *files, 0.8, cfg.bands, cfg.num_perm, work=tmp_path / "b", memory_mb=0.02
    )
    assert big.n_near > 50 and big.n_exact > 0
    assert (big.n_exact, big.n_near, big.clusters) == (small.n_exact, small.n_near, small.clusters)
    assert np.array_equal(np.concatenate(list(big.rows())), np.concatenate(list(small.rows())))


def test_components_on_disk_find_the_smallest_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long chain, stars and random edges, with runs of a few rows: the label of every
    document is the smallest document of its component (checked by union-find)."""
    monkeypatch.setattr(runs, "MIN_BLOCK", 16)
    rng = np.random.default_rng(5)
    chain = rng.permutation(np.arange(1000, 1300))
    pairs = [(int(a), int(b)) for a, b in itertools.pairwise(chain)]
    pairs += [(int(rng.integers(2000, 2050)), int(rng.integers(2000, 3000))) for _ in range(400)]
    pairs += [(7, 9), (9, 7), (9, 8)]
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    edges = dedup.RunSorter(tmp_path, "e", dedup._PAIR_ROW, 100)
    for a, b in pairs:
        if a != b:
            edges.add(dedup._rows(dedup._PAIR_ROW, u=np.array([a, b]), v=np.array([b, a])))
    labels = np.concatenate(list(dedup._components(edges, tmp_path, 100)))
    assert labels["x"].tolist() == sorted(parent)
    assert all(int(lab) == find(int(x)) for x, lab in zip(labels["x"], labels["l"], strict=True))
