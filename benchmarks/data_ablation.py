"""Ablation: a base model pretrained on the filtered corpus against one on the raw corpus.

    python benchmarks/data_ablation.py --raw RUN_DIR --out DIR [--policy microworld]

``RUN_DIR`` is a finished ``valign demo`` run (its ``world/corpus.jsonl``,
``pretrain/model`` and ``eval_base/scorecard.json`` are the raw arm; ``--retrain-raw``
pretrains the raw arm again into ``DIR/raw`` instead). The script audits the raw corpus
(with the default guard), filters it with the policy, pretrains the same architecture with
the same settings on the filtered corpus and scores it on the same held-out items, then
prints both scorecards' headline rows (:mod:`valign.data.ablation`, which the opt-in
``data_ablation`` stage of ``valign demo`` also runs). Every phase skips work already in
``DIR``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True, help="A finished valign demo run.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--policy", default="microworld")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--retrain-raw", action="store_true")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=-1,
        help="Train the filtered arm this many steps (e.g. the raw arm's, for equal compute).",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from valign.data.audit import AuditConfig
    from valign.data.stage import pretrain_and_eval, run_ablation
    from valign.train.pretrain import PretrainConfig

    corpus = args.raw / "world" / "corpus.jsonl"
    tasks = args.raw / "world" / "eval.jsonl"
    options = {"batch_size": 64}
    if args.retrain_raw:
        raw = pretrain_and_eval(
            corpus, args.out / "raw", tasks, PretrainConfig(threads=args.threads), options
        )
        raw_card = raw["scorecard"]
    else:
        raw_card = json.loads((args.raw / "eval_base" / "scorecard.json").read_text())
    result = run_ablation(
        corpus,
        tasks,
        raw_card,
        args.out,
        PretrainConfig(threads=args.threads, max_steps=args.max_steps),
        policy=args.policy,
        audit_config=AuditConfig(workers=args.workers, piece_mb=2),
        eval_options=options,
    )
    keys = ("input", "kept", "removed", "added", "output", "removed_by_rule")
    print(json.dumps({k: result["filter"][k] for k in keys}), flush=True)
    print(f"pretrained the filtered arm {result['pretrain']['steps']} steps")
    print(f"{'metric':34s} {'better':12s} {'raw corpus':26s} {'filtered corpus':26s}")
    for title, better, raw, new in result["rows"]:
        print(f"{title:34s} {better:12s} {raw:26s} {new:26s}")


if __name__ == "__main__":
    main()
