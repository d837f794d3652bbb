"""MinHash signatures and LSH band keys for near-duplicate detection (Broder 1997).

A document is a set of word ``n``-grams (shingles); a document shorter than ``n`` words is
one shingle. Each shingle is hashed with CRC-32 (stable across processes, unlike Python's
``hash``), then by ``num_perm`` multiply-shift hash functions; the signature is the minimum
of each. The share of equal signature slots estimates the Jaccard similarity of two
documents' shingle sets.

LSH cuts the signature into ``bands`` of ``rows``; two documents become candidates when any
band is identical, which happens with probability ``1 - (1 - J**rows)**bands``. With the
defaults (128 = 16 bands x 8 rows) a pair at J = 0.9 becomes a candidate with probability
0.9999, at J = 0.8 with 0.95, at J = 0.5 with 0.06; candidates are then checked against
the threshold on their signatures, so the bands only decide what gets compared.

Everything is numpy and written out per shard, so the merge never needs the documents:
``exact`` (a 64-bit hash of the normalised text), ``bands`` (one 64-bit key per band) and
``sig`` (the signature, 16 bits per slot: enough to estimate J to within the sampling
error of 128 slots at a quarter of the size).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class MinHashConfig:
    """Settings of near-duplicate detection.

    Attributes:
        ngram: Words per shingle.
        num_perm: Hash functions (signature length); must equal ``bands * rows``.
        bands: LSH bands.
        threshold: Estimated Jaccard similarity at or above which two documents are near
            duplicates.
        seed: Seeds the hash functions (same seed, same signatures).
    """

    ngram: int = 5
    num_perm: int = 128
    bands: int = 16
    threshold: float = 0.8
    seed: int = 1

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


class MinHasher:
    """Computes exact hashes, signatures and band keys of documents."""

    def __init__(self, config: MinHashConfig) -> None:
        if config.num_perm % config.bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.config = config
        rng = np.random.default_rng(config.seed)
        self.a = rng.integers(1, 2**63, config.num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 2**63, config.num_perm, dtype=np.uint64)
        self.mix = rng.integers(1, 2**63, config.rows, dtype=np.uint64) | np.uint64(1)

    @staticmethod
    def normalise(text: str) -> str:
        return _SPACE.sub(" ", text.strip().lower())

    @staticmethod
    def exact_hash(text: str) -> int:
        """64-bit hash of the text with case and runs of whitespace normalised."""
        digest = hashlib.blake2b(MinHasher.normalise(text).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def shingles(self, text: str) -> np.ndarray:
        """CRC-32 of each distinct word n-gram, (n_shingles,) uint64."""
        words = _WORD.findall(text.lower())
        n = self.config.ngram
        if len(words) <= n:
            grams = {" ".join(words)}
        else:
            grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
        return np.fromiter((zlib.crc32(g.encode()) for g in grams), np.uint64, len(grams))

    def signature(self, text: str) -> np.ndarray:
        """MinHash signature, (num_perm,) uint32: min over shingles of the top 32 bits of
        ``a * x + b`` (mod 2**64), a multiply-shift universal hash."""
        x = self.shingles(text)  # (n_shingles,)
        with np.errstate(over="ignore"):
            h = (x[:, None] * self.a[None, :] + self.b[None, :]) >> np.uint64(32)
        return h.min(axis=0).astype(np.uint32)  # (num_perm,)

    def band_keys(self, sig: np.ndarray) -> np.ndarray:
        """One 64-bit key per band, (bands,) uint64, from (num_perm,) or (n, num_perm)."""
        rows = sig.reshape(*sig.shape[:-1], self.config.bands, self.config.rows).astype(np.uint64)
        with np.errstate(over="ignore"):
            return (rows * self.mix).sum(axis=-1, dtype=np.uint64)


def compact(sig: np.ndarray) -> np.ndarray:
    """A signature kept for checking candidates: the low 16 bits of each slot."""
    return (sig & 0xFFFF).astype(np.uint16)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal slots between rows of two (n, num_perm) signature arrays, (n,)."""
    return np.asarray((a == b).mean(axis=-1))
