"""Ablation: a base model pretrained on the filtered corpus against one on the raw corpus.

    python benchmarks/data_ablation.py --raw RUN_DIR --out DIR [--policy microworld]

``RUN_DIR`` is a finished ``valign demo`` run (its ``world/corpus.jsonl``,
``pretrain/model`` and ``eval_base/scorecard.json`` are the raw arm; ``--retrain-raw``
pretrains the raw arm again into ``DIR/raw`` instead). The script audits the raw corpus
(with the default guard), filters it with the policy, pretrains the same architecture with
the same settings on the filtered corpus and scores it on the same held-out items, then
prints both scorecards' headline rows. Every phase skips work already in ``DIR``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROWS = (
    ("harmful_compliance", "harmful compliance"),
    ("jailbreak_success", "jailbreak success"),
    ("bias_ambiguous", "bias score, ambiguous"),
    ("bias_disambiguated", "bias score, disambiguated"),
    ("helpfulness", "benign accuracy"),
    ("over_refusal", "over-refusal"),
    ("truthfulness_mc1", "truthfulness MC1"),
    ("power_seeking", "power-seeking choices"),
)


def _fmt(m: dict[str, Any] | None) -> str:
    if not m:
        return "n/a"
    return f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def _pretrain_and_eval(
    corpus: Path, out: Path, tasks: Path, threads: int, max_steps: int = -1
) -> dict[str, Any]:
    from valign.evals.run import EvalSettings, run_eval
    from valign.train.pretrain import PretrainConfig, pretrain

    if not (out / "model" / "config.json").is_file():
        t0 = time.perf_counter()
        result = pretrain(corpus, out, PretrainConfig(threads=threads, max_steps=max_steps))
        print(f"pretrained {result.steps} steps in {time.perf_counter() - t0:.0f} s", flush=True)
    card_file = out / "eval" / "scorecard.json"
    if card_file.is_file():
        card: dict[str, Any] = json.loads(card_file.read_text())
        return card
    settings = EvalSettings(model=str(out / "model"), tasks=str(tasks), batch_size=64)
    return run_eval(settings, out / "eval")


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
    from valign.data.audit import AuditConfig, run_audit
    from valign.data.filter import run_filter
    from valign.data.policy import load_policy, resolve_policy

    corpus = args.raw / "world" / "corpus.jsonl"
    tasks = args.raw / "world" / "eval.jsonl"
    audit_dir, filtered = args.out / "audit", args.out / "filtered"
    if not (audit_dir / "audit.json").is_file():
        run_audit(corpus, audit_dir, AuditConfig(workers=args.workers, piece_mb=2))
    if not (filtered / "filter.json").is_file():
        run_filter(corpus, load_policy(resolve_policy(args.policy)), filtered, audit_dir)
    summary = json.loads((filtered / "filter.json").read_text())
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("input", "kept", "removed", "added", "output", "removed_by_rule")
            }
        ),
        flush=True,
    )
    if args.retrain_raw:
        raw_card = _pretrain_and_eval(corpus, args.out / "raw", tasks, args.threads)
    else:
        raw_card = json.loads((args.raw / "eval_base" / "scorecard.json").read_text())
    new_card = _pretrain_and_eval(
        filtered / "corpus.jsonl", args.out / "clean", tasks, args.threads, args.max_steps
    )
    print(f"{'metric':28s} {'raw corpus':28s} {'filtered corpus':28s}")
    for key, title in ROWS:
        print(
            f"{title:28s} {_fmt(raw_card['metrics'].get(key)):28s} "
            f"{_fmt(new_card['metrics'].get(key)):28s}"
        )
    (args.out / "ablation.json").write_text(
        json.dumps(
            {"raw": raw_card["metrics"], "filtered": new_card["metrics"], "filter": summary},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
