"""Benchmark: activation capture throughput (tokens/s) and peak memory.

Captures every site (resid, attn, mlp at every layer) of a model over the first N texts
of a JSONL file into a sharded store, on one torch thread by default, and prints tokens/s,
the peak resident memory of the process and the store's size on disk. Run it in a fresh
process: the peak memory is the process's.

    python benchmarks/interp_capture.py --model runs/demo/pretrain/model \
        --texts runs/demo/world/corpus.jsonl --limit 5000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=Path("runs/demo/pretrain/model"))
    ap.add_argument("--texts", type=Path, default=Path("runs/demo/world/corpus.jsonl"))
    ap.add_argument("--limit", type=int, default=5000)
    ap.add_argument("--sites", default="resid.*,attn.*,mlp.*")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--shard-tokens", type=int, default=32768)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from valign.interp.capture import CaptureConfig, capture, peak_rss_mib
    from valign.interp.sites import parse_sites
    from valign.interp.texts import read_texts

    model = AutoModelForCausalLM.from_pretrained(args.model).to(args.device).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    loaded = peak_rss_mib()
    sites = parse_sites(args.sites, model)
    config = CaptureConfig(batch_size=args.batch_size, shard_tokens=args.shard_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        records = read_texts(args.texts, tokenizer, args.limit)
        s = capture(model, tokenizer, records, sites, Path(tmp), config)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    print(
        f"{s.records} texts, {s.tokens:,} tokens, {len(sites)} sites, {s.shards} shards "
        f"({size:.0f} MiB on disk): {s.tokens_per_s:,.0f} tokens/s on {args.device} "
        f"({args.threads} threads); peak RSS {s.peak_rss_mib:.0f} MiB "
        f"({loaded:.0f} MiB after loading the model)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
