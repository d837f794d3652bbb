"""MinHash signatures and the duplicate merge across pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from valign.data.dedup import EXACT, NEAR, NONE, exact_duplicates, find_duplicates
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


def test_exact_duplicates_point_at_the_first() -> None:
    first = exact_duplicates(np.array([5, 7, 5, 9, 7, 5], np.uint64))
    assert first.tolist() == [0, 1, 0, 3, 1, 0]


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
    assert d.kind.tolist() == [NONE, NONE, EXACT, NEAR, NONE, EXACT]
    assert d.of.tolist() == [0, 1, 0, 0, 4, 1]
    assert d.similarity[3] >= 0.8
    none = find_duplicates(
        *files, threshold=0.8, bands=cfg.bands, num_perm=cfg.num_perm, near=False
    )
    assert none.n_near == 0 and none.n_exact == 2
