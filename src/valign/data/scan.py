"""The per-piece scan: every detector over one piece of a corpus, in one worker process.

A worker streams its piece in batches (the guard classifies a batch at a time), keeps only
fixed-size counters, writes one line per flagged document to ``flags-<piece>.jsonl`` and
the document's hashes for the duplicate merge to ``.npy`` files, and returns its counters.
Memory therefore stays flat however large the piece is.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from valign.data.claims import ClaimExtractor, ClaimStats
from valign.data.language import LanguageDetector
from valign.data.lexicons import Lexicons, PhraseMatcher, tokens
from valign.data.minhash import MinHashConfig, MinHasher, compact
from valign.data.pieces import Piece, iter_piece
from valign.data.pii import find_pii, redact
from valign.data.representation import (
    RepresentationConfig,
    RepresentationScanner,
    RepresentationStats,
)
from valign.data.shards import Doc

_WORDS = re.compile(r"\S+")
#: Length histogram bins: 0, 1, 2-3, 4-7, … words (log2 buckets).
LENGTH_BINS = 24
SAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class ScanSettings:
    """What a worker needs (picklable)."""

    work: str
    minhash: MinHashConfig
    representation: RepresentationConfig
    pii_kinds: tuple[str, ...]
    near_duplicates: bool
    guard: str | None  # backend name or folder; None: no harm screening
    guard_floor: float
    batch_size: int
    lexicon_files: tuple[str, ...]


@dataclass
class PieceStats:
    """Counters of one piece; :meth:`merge` adds another piece's."""

    docs: int = 0
    bytes: int = 0
    chars: int = 0
    words: int = 0
    dialogues: int = 0
    empty: int = 0
    length_hist: list[int] = field(default_factory=lambda: [0] * LENGTH_BINS)
    languages: Counter[str] = field(default_factory=Counter)
    pii_docs: Counter[str] = field(default_factory=Counter)
    pii_items: Counter[str] = field(default_factory=Counter)
    pii_any: int = 0
    screened: int = 0
    unsafe_docs: int = 0
    category_docs: Counter[str] = field(default_factory=Counter)
    toxic_docs: int = 0
    representation: RepresentationStats = field(default_factory=RepresentationStats)
    claims: ClaimStats = field(default_factory=ClaimStats)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def sample(self, kind: str, row: dict[str, Any]) -> None:
        rows = self.samples.setdefault(kind, [])
        if len(rows) < SAMPLES_PER_KIND:
            rows.append(row)

    def merge(self, other: PieceStats) -> None:
        for name in ("docs", "bytes", "chars", "words", "dialogues", "empty", "pii_any"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("screened", "unsafe_docs", "toxic_docs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.length_hist = [a + b for a, b in zip(self.length_hist, other.length_hist, strict=True)]
        for name in ("languages", "pii_docs", "pii_items", "category_docs"):
            getattr(self, name).update(getattr(other, name))
        self.representation.merge(other.representation)
        self.claims.merge(other.claims)
        for kind, rows in other.samples.items():
            for row in rows:
                self.sample(kind, row)


class Scanner:
    """Every detector, built once per worker process."""

    def __init__(self, settings: ScanSettings, lex: Lexicons) -> None:
        self.s = settings
        self.language = LanguageDetector(lex.stopwords)
        self.toxicity = PhraseMatcher({t: "toxic" for t in lex.toxicity})
        self.representation = RepresentationScanner(lex, settings.representation)
        self.claims = ClaimExtractor(lex)
        self.hasher = MinHasher(settings.minhash)
        self.guard: Any = None
        if settings.guard is not None:
            from valign.guard.types import get_backend

            self.guard = get_backend(None if settings.guard == "default" else settings.guard)

    def scan(self, index: int, piece: Piece) -> PieceStats:
        """Scan one piece (see :meth:`scan_stream`)."""
        stats = PieceStats()
        for _ in self.scan_stream(index, iter_piece(piece), stats):
            pass
        return stats

    def scan_stream(self, index: int, docs: Iterable[Doc], stats: PieceStats) -> Iterator[Doc]:
        """Scan the documents of piece ``index`` into ``stats``, yielding each one once its
        batch is scanned (so an engine can pass them on). Hashes go to raw files, appended
        per batch, never held whole: ``exact-i.u64`` (n,), ``lines-i.i64`` (n,),
        ``bands-i.u64`` (n, bands), ``sig-i.u16`` (n, num_perm); flagged documents to
        ``flags-i.jsonl``."""
        work = Path(self.s.work)
        names = ("flags", "exact", "lines", "bands", "sig")
        suffix = {"flags": "jsonl", "exact": "u64", "lines": "i64", "bands": "u64", "sig": "u16"}
        files: dict[str, BinaryIO] = {
            k: (work / f"{k}-{index:06d}.{suffix[k]}").open("wb") for k in names
        }
        try:
            batch: list[Doc] = []
            for doc in docs:
                batch.append(doc)
                if len(batch) >= self.s.batch_size:
                    self._batch(batch, stats, files)
                    yield from batch
                    batch = []
            if batch:
                self._batch(batch, stats, files)
                yield from batch
        finally:
            for fh in files.values():
                fh.close()

    def _batch(self, batch: list[Doc], stats: PieceStats, files: dict[str, BinaryIO]) -> None:
        from valign.data.harm import screen

        verdicts = screen(self.guard, batch, self.s.guard_floor) if self.guard else None
        for i, doc in enumerate(batch):
            flag = self._doc(doc, verdicts[i] if verdicts else None, stats)
            if flag:
                line = json.dumps({"id": doc.id, **flag}, ensure_ascii=False) + "\n"
                files["flags"].write(line.encode())
        exact = np.array([self.hasher.exact_hash(d.text) for d in batch], np.uint64)
        lines = np.array([int(d.id.rsplit(":", 1)[1]) for d in batch], np.int64)
        p = self.s.minhash.num_perm
        if self.s.near_duplicates:
            sig = np.stack([self.hasher.signature(d.text) for d in batch])  # (batch, num_perm)
        else:
            sig = np.zeros((len(batch), p), np.uint32)
        files["exact"].write(exact.tobytes())
        files["lines"].write(lines.tobytes())
        files["bands"].write(self.hasher.band_keys(sig).tobytes())  # (batch, bands)
        files["sig"].write(compact(sig).tobytes())  # (batch, num_perm)

    def _doc(self, doc: Doc, verdict: dict[str, Any] | None, stats: PieceStats) -> dict[str, Any]:
        text = doc.text
        flag: dict[str, Any] = {}
        n_words = len(_WORDS.findall(text))
        stats.docs += 1
        stats.bytes += doc.nbytes
        stats.chars += len(text)
        stats.words += n_words
        stats.dialogues += doc.is_dialogue
        stats.empty += n_words == 0
        stats.length_hist[
            min(LENGTH_BINS - 1, 0 if n_words == 0 else 1 + int(math.log2(n_words)))
        ] += 1
        toks = tokens(text)
        stats.languages[self.language.detect(text, toks)] += 1
        found = find_pii(text, self.s.pii_kinds)
        if found:
            kinds = Counter(f.kind for f in found)
            stats.pii_any += 1
            stats.pii_docs.update(kinds.keys())
            stats.pii_items.update(kinds)
            flag["pii"] = dict(kinds)
            stats.sample("pii", {"id": doc.id, "text": redact(text, found)[:200]})
        if verdict is not None:
            stats.screened += 1
            if verdict["flagged"]:
                stats.unsafe_docs += 1
                stats.category_docs.update(verdict["flagged_categories"] or ["(uncategorised)"])
                stats.sample("harm", {"id": doc.id, "categories": verdict["flagged_categories"]})
            if verdict["flagged"] or verdict["unsafe"] >= self.s.guard_floor:
                flag["harm"] = verdict
        toxic = len(self.toxicity.matches(toks))
        if toxic:
            stats.toxic_docs += 1
            flag["toxic"] = toxic
        stats.representation.add(self.representation.observe(text, toks))
        stats.claims.add(self.claims.claims(text))
        return flag


_SCANNER: Scanner | None = None


def init_worker(settings: ScanSettings) -> Scanner:
    """Pool initialiser: one thread for torch, detectors built once per process."""
    global _SCANNER
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    from valign.data.lexicons import load_lexicons

    lex = load_lexicons([Path(f) for f in settings.lexicon_files])
    _SCANNER = Scanner(settings, lex)
    return _SCANNER


def scan_piece(job: tuple[int, Piece]) -> PieceStats:
    assert _SCANNER is not None, "init_worker was not called"
    return _SCANNER.scan(*job)
