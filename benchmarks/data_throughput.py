"""Audit throughput (documents/s, MB/s) and memory on a large synthetic corpus.

    python benchmarks/data_throughput.py --world RUN/world --size-mb 1000 --tmp /tmp/tp \
        [--workers 2] [--guard none]

Writes a corpus of about ``--size-mb`` by repeating the microworld corpus with variations
(every other document of each copy gets a copy number appended, so half are exact
duplicates of earlier copies and half are new texts) into ``--tmp`` (never the repository),
audits it (pieces of 64 MB, so the workers share a single large file), and samples the
resident memory of the audit (the main process and its workers)
once a second. It prints throughput and the memory at each tenth of the run, so a flat
profile shows that memory does not grow with the documents read; the duplicate merge at
the end is reported separately (it holds a few bytes per document).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any


def synthesise(world_corpus: Path, target: Path, size_mb: float) -> int:
    lines = world_corpus.read_text(encoding="utf-8").splitlines()
    written, copy = 0, 0
    with target.open("w", encoding="utf-8") as fh:
        while written < size_mb * 1e6:
            for i, line in enumerate(lines):
                if copy and i % 2:
                    row = json.loads(line)
                    if "text" in row:
                        row["text"] += f" ({copy})"
                    else:
                        row["messages"][-1]["content"] += f" ({copy})"
                    line = json.dumps(row, ensure_ascii=False)
                fh.write(line + "\n")
                written += len(line) + 1
            copy += 1
    return written


def _rss_mb() -> float:
    import os

    try:
        import psutil
    except ImportError:  # pragma: no cover
        return float("nan")
    me = psutil.Process(os.getpid())
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, required=True, help="A microworld folder.")
    parser.add_argument("--size-mb", type=float, default=1000)
    parser.add_argument("--tmp", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--guard", default="none")
    args = parser.parse_args()

    from valign.data.audit import AuditConfig, run_audit

    args.tmp.mkdir(parents=True, exist_ok=True)
    corpus = args.tmp / f"corpus-{int(args.size_mb)}mb.jsonl"
    if not corpus.is_file():
        synthesise(args.world / "corpus.jsonl", corpus, args.size_mb)
    samples: list[tuple[float, float, int]] = []
    progress = {"pieces": 0, "total": 0}
    done = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.is_set():
            samples.append((time.perf_counter() - t0, _rss_mb(), progress["pieces"]))
            done.wait(1.0)

    def on_piece(i: int, n: int) -> None:
        progress["pieces"], progress["total"] = i, n

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    cfg = AuditConfig(guard=None if args.guard == "none" else args.guard, workers=args.workers)
    summary = run_audit(corpus, args.tmp / "audit", cfg, on_piece=on_piece)
    done.set()
    thread.join()
    scan = summary["timing"]["scan_seconds"]
    during = [s for s in samples if s[0] <= scan]
    merge = [s for s in samples if s[0] > scan]
    tenths: list[dict[str, Any]] = []
    for k in range(1, 11):  # memory at each tenth of the scan's time
        at = [x for x in during if x[0] >= scan * k / 10 - 1.0]
        if at:
            tenths.append({"at_s": round(at[0][0]), "rss_mb": round(at[0][1])})
    size = summary["size"]
    result = {
        "documents": size["documents"],
        "mb": round(size["bytes"] / 1e6, 1),
        "workers": summary["corpus"]["workers"],
        "pieces": summary["corpus"]["pieces"],
        "guard": cfg.guard,
        "seconds": summary["timing"]["seconds"],
        "scan_seconds": scan,
        "docs_per_second": summary["timing"]["docs_per_second"],
        "mb_per_second": summary["timing"]["mb_per_second"],
        "rss_mb_during_scan": tenths,
        "rss_mb_peak_scan": round(max((s[1] for s in during), default=0)),
        "rss_mb_peak_merge": round(max((s[1] for s in merge), default=0)),
        "duplicates": summary["duplicates"],
    }
    print(json.dumps(result, indent=2))
    (args.tmp / "throughput.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
