"""Benchmark: attack success per attack family on the microworld, for any model folders.

Runs the default campaign (every default attack, ``--per-intent`` objectives per harmful
intent, ``--variants`` attempts per objective and attack; success decided by the exact
grader; guard and refusal detector scored beside it) against each model and prints one
markdown row per model: attack success per family with Wilson 95% intervals, overall,
over-refusal of borderline-safe controls, attempts/s.

    python benchmarks/redteam_asr.py --model base=runs/demo/pretrain/model \
        [--model sft=runs/demo/sft/model ...] [--out runs/bench-redteam]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from valign.redteam.campaign import CampaignConfig, run_campaign

FAMILIES = ("template", "encoding", "rephrase", "many_shot", "multi_turn", "generated", "iterative")


def fmt(est: dict[str, float] | None) -> str:
    if not est:
        return "—"
    return f"{est['value']:.0%} [{est['low']:.0%}, {est['high']:.0%}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=FOLDER")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-redteam"))
    parser.add_argument("--per-intent", type=int, default=2)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, torch threads {args.threads}")
    print("| model | " + " | ".join(FAMILIES) + " | all | over-refusal | attempts/s |")
    print("|---" * (len(FAMILIES) + 4) + "|")
    for spec in args.model:
        name, _, folder = spec.partition("=")
        cfg = CampaignConfig(model=folder, per_intent=args.per_intent, variants=args.variants)
        s = run_campaign(cfg, args.out / name)
        fams = " | ".join(fmt(s["by_family"].get(f)) for f in FAMILIES)
        print(
            f"| {name} | {fams} | {fmt(s['asr'])} | {fmt(s['over_refusal'])} | "
            f"{s['throughput']['attempts_per_s']:.1f} |"
        )
        det = {
            k: round(v["recall"]["value"], 3) if v["recall"] else None
            for k, v in s["detectors"].items()
        }
        print(f"<!-- {name}: n={s['n_attempts']} detector recall vs grader {json.dumps(det)} -->")


if __name__ == "__main__":
    main()
