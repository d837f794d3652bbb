"""``valign data audit``: measure a corpus and write its datasheet.

Phases:

1. **plan** — cut the corpus into pieces (:mod:`valign.data.pieces`);
2. **scan** — every detector over each piece, one worker process per core
   (:mod:`valign.data.scan`); each returns fixed-size counters and writes its flagged
   documents and hashes to the work folder;
3. **merge** — add up the counters; find exact and near duplicates across the whole corpus
   from the hashes (:mod:`valign.data.dedup`);
4. **summarise** — representation flags, contested claims, the audit summary;
5. **write** — ``audit.json``, ``flags.jsonl`` (one line per flagged document),
   ``duplicates.jsonl``, ``manifest.json`` and the datasheet (Markdown and HTML).

The filter (:mod:`valign.data.filter`) reads these files, so the guard never has to judge
a corpus twice.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from valign.data.claims import contested
from valign.data.dedup import EXACT, find_duplicates
from valign.data.lexicons import load_lexicons
from valign.data.minhash import MinHashConfig
from valign.data.pieces import Piece, plan_pieces
from valign.data.pii import KINDS as PII_KINDS
from valign.data.representation import RepresentationConfig, summarise
from valign.data.runs import RowReader
from valign.data.scan import LENGTH_BINS, PieceStats, ScanSettings, init_worker, scan_piece
from valign.errors import UserError
from valign.records.runs import atomic_write_json, manifest

AUDIT_FILE = "audit.json"
FLAGS_FILE = "flags.jsonl"
DUPLICATES_FILE = "duplicates.jsonl"


class AuditConfig(BaseModel):
    """Settings of a corpus audit (YAML-loadable; the command line overrides)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    guard: str | None = Field(
        "default",
        description="Guard that screens for harmful content: 'default', a backend name or a "
        "guard folder; null skips harm screening.",
    )
    guard_floor: float = Field(
        0.05, description="Unsafe score from which a document's guard verdict is recorded."
    )
    near_duplicates: bool = Field(True, description="Find near duplicates (MinHash LSH).")
    ngram: int = Field(5, description="Words per shingle for near duplicates.")
    num_perm: int = Field(128, description="MinHash signature length.")
    bands: int = Field(16, description="LSH bands (num_perm must be a multiple).")
    near_threshold: float = Field(0.8, description="Estimated Jaccard for a near duplicate.")
    pii_kinds: tuple[str, ...] = Field(PII_KINDS, description="Kinds of personal data to find.")
    lexicons: tuple[str, ...] = Field((), description="Extra lexicon files (groups, traits...).")
    pmi_min: float = Field(3.0, description="PMI bits from which a group-trait pair is a tie.")
    min_count: int = Field(20, description="Documents a tie needs before it is flagged.")
    under_ratio: float = Field(
        0.5, description="Groups below this share of an even split are under-represented."
    )
    window: str = Field("doc", description="Co-occurrence window for PMI: doc or sentence.")
    workers: int = Field(0, description="Worker processes (0: one per CPU core).")
    piece_mb: float = Field(64, description="Large JSONL shards are cut into pieces of this size.")
    batch_size: int = Field(256, description="Documents per guard batch.")
    text_mode: str = Field("lines", description="Plain-text shards: 'lines' or 'blocks'.")
    merge_mb: float = Field(
        256,
        description="Memory for the duplicate merge's sorts; beyond it they spill to sorted "
        "run files in the work folder, so the merge's memory does not grow with the corpus.",
    )
    keep_work: bool = Field(False, description="Keep the per-piece hash files after the merge.")

    def minhash(self) -> MinHashConfig:
        return MinHashConfig(
            ngram=self.ngram,
            num_perm=self.num_perm,
            bands=self.bands,
            threshold=self.near_threshold,
        )

    def representation(self) -> RepresentationConfig:
        return RepresentationConfig(
            window=self.window,
            pmi_min=self.pmi_min,
            min_count=self.min_count,
            under_ratio=self.under_ratio,
        )


def _settings(cfg: AuditConfig, work: Path) -> ScanSettings:
    unknown = set(cfg.pii_kinds) - set(PII_KINDS)
    if unknown:
        raise UserError(f"unknown PII kinds: {', '.join(sorted(unknown))} (known: {PII_KINDS})")
    if cfg.num_perm % cfg.bands:
        raise UserError("num_perm must be a multiple of bands")
    if cfg.window not in ("doc", "sentence"):
        raise UserError("window must be 'doc' or 'sentence'")
    return ScanSettings(
        work=str(work),
        minhash=cfg.minhash(),
        representation=cfg.representation(),
        pii_kinds=tuple(cfg.pii_kinds),
        near_duplicates=cfg.near_duplicates,
        guard=cfg.guard,
        guard_floor=cfg.guard_floor,
        batch_size=cfg.batch_size,
        lexicon_files=tuple(cfg.lexicons),
    )


def _scan_all(
    pieces: list[Piece],
    settings: ScanSettings,
    workers: int,
    on_piece: Callable[[int, int], None] | None,
) -> PieceStats:
    total = PieceStats()
    jobs = list(enumerate(pieces))
    if workers <= 1 or len(pieces) == 1:
        init_worker(settings)
        results = map(scan_piece, jobs)
        for i, stats in enumerate(results, 1):
            total.merge(stats)
            if on_piece:
                on_piece(i, len(jobs))
        return total
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    with ctx.Pool(min(workers, len(pieces)), init_worker, (settings,)) as pool:
        for i, stats in enumerate(pool.imap(scan_piece, jobs), 1):
            total.merge(stats)
            if on_piece:
                on_piece(i, len(jobs))
    return total


def _concat_flags(work: Path, n: int, out: Path) -> None:
    with out.open("w", encoding="utf-8") as dst:
        for i in range(n):
            with (work / f"flags-{i:06d}.jsonl").open(encoding="utf-8") as src:
                shutil.copyfileobj(src, dst)


class _Ids:
    """Global document indices -> ids, from the line numbers each worker saved."""

    def __init__(self, pieces: list[Piece], work: Path) -> None:
        import numpy as np

        self.names = [p.name for p in pieces]
        self.lines = RowReader([work / f"lines-{i:06d}.i64" for i in range(len(pieces))], np.int64)

    def __call__(self, index: Any) -> list[str]:
        """Ids of an array of global indices (vectorised: millions of duplicates are common)."""
        import numpy as np

        index = np.asarray(index, np.int64)
        piece = np.searchsorted(self.lines.starts, index, side="right") - 1
        line = self.lines.take(index)
        names = self.names
        return [f"{names[p]}:{n}" for p, n in zip(piece.tolist(), line.tolist(), strict=True)]


def _write_duplicates(
    pieces: list[Piece], work: Path, cfg: AuditConfig, out: Path
) -> dict[str, Any]:
    import numpy as np

    n = len(pieces)
    dups = find_duplicates(
        [work / f"exact-{i:06d}.u64" for i in range(n)],
        [work / f"bands-{i:06d}.u64" for i in range(n)],
        [work / f"sig-{i:06d}.u16" for i in range(n)],
        cfg.near_threshold,
        cfg.bands,
        cfg.num_perm,
        cfg.near_duplicates,
        work=work / "merge",
        memory_mb=cfg.merge_mb,
    )
    ids = _Ids(pieces, work)
    with out.open("w", encoding="utf-8") as fh:
        for block in dups.rows():
            for start in range(0, len(block), 100_000):
                chunk = block[start : start + 100_000]
                kinds = np.where(chunk["kind"] == EXACT, "exact", "near").tolist()
                sims = np.round(chunk["sim"].astype(np.float64), 3).tolist()
                fh.writelines(
                    json.dumps({"id": a, "kind": k, "of": b, "similarity": sim}) + "\n"
                    for a, k, b, sim in zip(
                        ids(chunk["i"]), kinds, ids(chunk["of"]), sims, strict=True
                    )
                )
    dups.close()
    ids.lines.close()
    return {
        "exact": dups.n_exact,
        "near": dups.n_near,
        "clusters": dups.clusters,
        "threshold": cfg.near_threshold,
        "near_searched": cfg.near_duplicates,
    }


def _quantile(hist: list[int], q: float) -> int:
    """Upper edge (in words) of the log2 bucket holding quantile ``q``."""
    total, seen = sum(hist), 0
    for b, count in enumerate(hist):
        seen += count
        if total and seen >= q * total:
            return 0 if b == 0 else 2**b - 1
    return 0


def summarise_stats(stats: PieceStats, lex: Any, cfg: AuditConfig) -> dict[str, Any]:
    """The audit's measurable fields, as plain JSON."""
    n = max(stats.docs, 1)
    return {
        "size": {
            "documents": stats.docs,
            "bytes": stats.bytes,
            "characters": stats.chars,
            "words": stats.words,
            "dialogues": stats.dialogues,
            "prose": stats.docs - stats.dialogues,
            "empty": stats.empty,
        },
        "length": {
            "bins": [0, *(2**b for b in range(LENGTH_BINS - 1))],
            "hist": stats.length_hist,
            "mean_words": stats.words / n,
            "median_words_at_most": _quantile(stats.length_hist, 0.5),
            "p95_words_at_most": _quantile(stats.length_hist, 0.95),
        },
        "languages": dict(stats.languages.most_common()),
        "pii": {
            "documents": stats.pii_any,
            "share": stats.pii_any / n,
            "documents_by_kind": dict(stats.pii_docs),
            "items_by_kind": dict(stats.pii_items),
            "kinds_searched": list(cfg.pii_kinds),
        },
        "harm": {
            "guard": cfg.guard,
            "screened": stats.screened,
            "flagged": stats.unsafe_docs,
            "share": stats.unsafe_docs / max(stats.screened, 1),
            "by_category": dict(stats.category_docs.most_common()),
        },
        "toxicity": {"lexicon_documents": stats.toxic_docs, "share": stats.toxic_docs / n},
        "representation": summarise(stats.representation, lex, cfg.representation()),
        "claims": {
            "contested": contested(stats.claims),
            "keys": len(stats.claims.counts),
            "dropped": stats.claims.dropped,
        },
        "samples": stats.samples,
    }


def prepare_audit(
    corpus: Path, out: Path, cfg: AuditConfig
) -> tuple[Path, ScanSettings, list[Piece]]:
    """Check the settings, make ``out`` and an empty work folder, plan the pieces."""
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    settings = _settings(cfg, work)
    pieces = plan_pieces(corpus, max(1, int(cfg.piece_mb * 2**20)), cfg.text_mode)
    return work, settings, pieces


def finish_audit(
    corpus: Path,
    out: Path,
    cfg: AuditConfig,
    pieces: list[Piece],
    stats: PieceStats,
    workers: int,
    t0: float,
) -> dict[str, Any]:
    """The merge, once every piece is scanned into ``out/work``: flags, duplicates, the
    summary, the datasheet. ``t0`` is when the audit started (for its timing)."""
    from valign.data.datasheet import write_datasheet

    work = out / "work"
    lex = load_lexicons([Path(f) for f in cfg.lexicons])
    t_scan = time.perf_counter() - t0
    _concat_flags(work, len(pieces), out / FLAGS_FILE)
    duplicates = _write_duplicates(pieces, work, cfg, out / DUPLICATES_FILE)
    summary = summarise_stats(stats, lex, cfg)
    summary["duplicates"] = duplicates
    seconds = time.perf_counter() - t0
    summary["corpus"] = {"path": str(corpus), "pieces": len(pieces), "workers": workers}
    summary["timing"] = {
        "seconds": round(seconds, 2),
        "scan_seconds": round(t_scan, 2),
        "docs_per_second": round(stats.docs / max(seconds, 1e-9), 1),
        "mb_per_second": round(stats.bytes / 1e6 / max(seconds, 1e-9), 3),
    }
    summary["lexicon_files"] = lex.files
    summary["extra_lexicons"] = list(cfg.lexicons)
    summary["text_mode"] = cfg.text_mode
    if not cfg.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    atomic_write_json(out / "manifest.json", manifest("data_audit", cfg, None))
    atomic_write_json(out / AUDIT_FILE, summary)
    write_datasheet(summary, out)
    return summary


def run_audit(
    corpus: Path,
    out: Path,
    cfg: AuditConfig | None = None,
    on_piece: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Audit ``corpus`` into ``out``; returns the summary (also ``out/audit.json``)."""
    cfg = cfg or AuditConfig()
    t0 = time.perf_counter()
    _, settings, pieces = prepare_audit(corpus, out, cfg)
    workers = cfg.workers or os.cpu_count() or 1
    stats = _scan_all(pieces, settings, workers, on_piece)
    return finish_audit(corpus, out, cfg, pieces, stats, workers, t0)
