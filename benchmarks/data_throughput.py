"""Audit throughput (documents/s, MB/s) and memory on a large synthetic corpus.

    python benchmarks/data_throughput.py --world RUN/world --size-mb 1000 --tmp /tmp/tp \
        [--workers 2] [--guard none] [--merge-mb 256] [--piece-mb 64]
    python benchmarks/data_throughput.py --world RUN/world --size-mb 50 200 400 --tmp /tmp/tp

Writes a corpus of about ``--size-mb`` by repeating the microworld corpus with variations
(every other document of each copy gets a copy number appended, so half are exact
duplicates of earlier copies and half are new texts) into ``--tmp`` (never the repository),
audits it (pieces of ``--piece-mb``, so the workers share a single large file), and samples
the resident memory of the audit (the main process and its workers) twice a second. It
prints throughput and the memory at each tenth of the run, so a flat profile shows that
memory does not grow with the documents read; the duplicate merge at the end is reported
separately (its sorts spill to disk beyond ``--merge-mb``). With several sizes, each is
audited in a fresh process and a table of peak memory per size closes the output: memory
that stays flat as the corpus grows is the point.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
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
    parser.add_argument("--size-mb", type=float, nargs="+", default=[1000])
    parser.add_argument("--tmp", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--guard", default="none")
    parser.add_argument("--merge-mb", type=float, default=None, help="AuditConfig.merge_mb.")
    parser.add_argument("--piece-mb", type=float, default=64, help="AuditConfig.piece_mb.")
    args = parser.parse_args()
    if len(args.size_mb) > 1:
        _sizes(args)
        return
    size_mb = args.size_mb[0]

    from valign.data.audit import AuditConfig, run_audit

    args.tmp.mkdir(parents=True, exist_ok=True)
    corpus = args.tmp / f"corpus-{int(size_mb)}mb.jsonl"
    if not corpus.is_file():
        synthesise(args.world / "corpus.jsonl", corpus, size_mb)
    samples: list[tuple[float, float, int]] = []
    progress = {"pieces": 0, "total": 0}
    done = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.is_set():
            samples.append((time.perf_counter() - t0, _rss_mb(), progress["pieces"]))
            done.wait(0.5)

    def on_piece(i: int, n: int) -> None:
        progress["pieces"], progress["total"] = i, n

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    extra = {} if args.merge_mb is None else {"merge_mb": args.merge_mb}
    cfg = AuditConfig(
        guard=None if args.guard == "none" else args.guard,
        workers=args.workers,
        piece_mb=args.piece_mb,
        **extra,
    )
    summary = run_audit(corpus, args.tmp / f"audit-{int(size_mb)}mb", cfg, on_piece=on_piece)
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
    result["rss_mb_peak_main"] = round(_peak_self_mb())
    print(json.dumps(result, indent=2))
    (args.tmp / f"throughput-{int(size_mb)}mb.json").write_text(json.dumps(result, indent=2))


def _peak_self_mb() -> float:
    """Peak resident memory of this process (the merge runs here), from the kernel."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _sizes(args: argparse.Namespace) -> None:
    """Each size in a fresh process (so peaks do not carry over), then one table."""
    rows = []
    for size in args.size_mb:
        cmd = [sys.executable, __file__, "--world", str(args.world), "--tmp", str(args.tmp)]
        cmd += ["--size-mb", str(size), "--workers", str(args.workers), "--guard", args.guard]
        cmd += ["--piece-mb", str(args.piece_mb)]
        if args.merge_mb is not None:
            cmd += ["--merge-mb", str(args.merge_mb)]
        subprocess.run(cmd, check=True)
        rows.append(json.loads((args.tmp / f"throughput-{int(size)}mb.json").read_text()))
    print(
        f"{'MB':>8} {'documents':>10} {'pieces':>7} {'scan s':>8} {'total s':>8} {'docs/s':>8} "
        f"{'peak scan MB':>13} {'peak merge MB':>14} {'peak main MB':>13}"
    )
    for r in rows:
        print(
            f"{r['mb']:8.1f} {r['documents']:10d} {r['pieces']:7d} {r['scan_seconds']:8.0f} "
            f"{r['seconds']:8.0f} "
            f"{r['docs_per_second']:8.0f} {r['rss_mb_peak_scan']:13d} "
            f"{r['rss_mb_peak_merge']:14d} {r['rss_mb_peak_main']:13d}"
        )


if __name__ == "__main__":
    main()
