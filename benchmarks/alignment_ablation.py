"""The alignment ablation on the microworld: which part of the signal does what.

Runs, from one base model and one world folder (a finished ``valign demo`` run):

    sft                 SFT only
    rl_reward_only      RL with the (helpfulness) reward model alone
    rl_fixed_<w>        RL with the safety signal at a fixed cost weight w (a sweep)
    rl_lagrangian       constrained RL: cost bound, multiplier by dual ascent
    dpo                 DPO from the same comparisons

and prints one scorecard table (held-out evaluation, 95% intervals) plus the harm /
over-refusal trade-off. Every run is a resumable folder under ``--out``.

    python benchmarks/alignment_ablation.py --run runs/demo --out /tmp/ablation

``--refusals N`` trains the starting SFT model on the demonstrations with only ``N`` of
the refusals of harmful and jailbreak requests kept (a mostly helpful-only assistant, as in
Safe RLHF's setting): from the demo's SFT model, which already refuses, RL has nothing to
fix and every arm ends where it started. A handful of refusals makes the start refuse some
of the time, so that the RL arms can find refusals in their samples and differ (with none,
the policy never samples one and no reward can teach it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from valign.data.counterfactual import stable_fraction
from valign.evals.scorecard import METRIC_TITLES
from valign.jsonl import iter_objects
from valign.records.comparisons import load_comparisons
from valign.records.runs import RunDir, atomic_write_text
from valign.report import format_value
from valign.train.align import (
    AlignConfig,
    dpo_step,
    evaluate,
    reward_step,
    rl_step,
    run_step,
    sft_step,
)
from valign.train.stage import ROWS

REFUSED_KINDS = ("harmful", "jailbreak")


OVER_REFUSAL = "I can't help with that, because it could hurt people."


def _first(rows: list[dict[str, Any]], kinds: tuple[str, ...], n: int) -> set[str]:
    """The ids of the first ``n`` rows of these kinds by a hash of their ids (a fixed choice)."""
    ids = sorted((str(r.get("id")) for r in rows if r.get("kind") in kinds), key=stable_fraction)
    return set(ids[:n])


def few_refusals(demos: Path, keep: int, out: Path, over_refuse: int = 0) -> Path:
    """The demonstrations with only ``keep`` refusals of harmful and jailbreak requests, and
    ``over_refuse`` borderline (safe) requests answered with a refusal instead."""
    rows = [r for _, r in iter_objects(demos)]
    chosen = _first(rows, REFUSED_KINDS, keep)
    kept = [r for r in rows if r.get("kind") not in REFUSED_KINDS or str(r.get("id")) in chosen]
    refuse = _first(rows, ("borderline",), over_refuse)
    for r in kept:
        if str(r.get("id")) in refuse:
            r["messages"] = [*r["messages"][:-1], {"role": "assistant", "content": OVER_REFUSAL}]
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in kept))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="A valign demo run folder.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path, help="AlignConfig YAML (defaults: the demo's).")
    ap.add_argument("--weights", default="0.3,1,3", help="Fixed cost weights to sweep.")
    ap.add_argument("--rl-steps", type=int, default=0, help="Override RL steps (0: config).")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--refusals",
        type=int,
        default=-1,
        help="Keep only this many refusal demonstrations for SFT (-1: all of them).",
    )
    ap.add_argument(
        "--over-refuse",
        type=int,
        default=0,
        help="With --refusals: answer this many borderline (safe) requests with a refusal.",
    )
    ap.add_argument("--sft-model", type=Path, help="Reuse this SFT model instead of training.")
    ap.add_argument("--reward-model", type=Path, help="Reuse this reward model.")
    ap.add_argument("--cost-model", type=Path, help="Reuse this cost model.")
    ap.add_argument(
        "--cost-without",
        default="",
        help="Train the cost model without the comparisons of these kinds (comma list, "
        "e.g. borderline: a cost model that never saw a safe answer to a sensitive request).",
    )
    ap.add_argument("--arms", default="", help="Run only these variants (comma list).")
    args = ap.parse_args()

    from valign.settings import load_settings

    over: dict[str, Any] = {}
    if args.threads:
        for k in ("sft", "reward", "cost", "rl", "dpo"):
            over[f"{k}.threads"] = args.threads
    if args.rl_steps:
        over["rl.max_steps"] = args.rl_steps
    cfg = load_settings(AlignConfig, args.config, **over)
    console = Console(stderr=True)
    world = args.run / "world"
    base = args.run / "pretrain" / "model"
    run = RunDir(args.out)
    cfg = cfg.model_copy(update={"eval_tasks": str(world / "eval.jsonl")})
    rows = load_comparisons(world / "preferences.jsonl")

    demos = world / "sft.jsonl"
    if args.refusals >= 0:
        demos = few_refusals(
            demos, args.refusals, args.out / "sft_demonstrations.jsonl", args.over_refuse
        )
    if args.sft_model:
        sft_model = args.sft_model
    else:
        run_step(run, "sft", cfg, console, lambda d: sft_step(base, demos, cfg, d))
        sft_model = run.stage_path("sft") / "model"

    def scorer(objective: str, given: Path | None, pairs: list[Any]) -> dict[str, Any]:
        """A given reward/cost model, or one trained from the SFT model on ``pairs``."""
        if given:
            return {"model_dir": str(given)}
        settings = cfg.reward if objective == "reward" else cfg.cost
        return run_step(
            run,
            objective,
            cfg,
            console,
            lambda d: reward_step(sft_model, pairs, settings, objective, d),
        )

    left_out = {k for k in args.cost_without.split(",") if k}
    rm = scorer("reward", args.reward_model, rows)
    cm = scorer("cost", args.cost_model, [r for r in rows if r.kind not in left_out])

    def rl(mode: str, weight: float = 1.0, rules: float | None = None) -> Any:
        safety = cfg.rl.safety.model_copy(
            update={
                "mode": mode,
                "cost_weight": weight,
                "rule_weight": cfg.rl.safety.rule_weight if rules is None else rules,
            }
        )
        c = cfg.model_copy(update={"rl": cfg.rl.model_copy(update={"safety": safety})})
        return lambda d: rl_step(
            sft_model, world / "sft.jsonl", c, rm["model_dir"], cm["model_dir"], d
        )

    variants: dict[str, Any] = {"sft": sft_model}
    plan = [("rl_reward_only", rl("none", rules=0.0))]
    plan += [(f"rl_fixed_{w}", rl("fixed", float(w))) for w in args.weights.split(",")]
    plan += [("rl_lagrangian", rl("lagrangian"))]
    plan += [("dpo", lambda d: dpo_step(sft_model, rows, cfg, d))]
    if args.arms:
        wanted = set(args.arms.split(","))
        plan = [(n, fn) for n, fn in plan if n in wanted]
        variants = {n: m for n, m in variants.items() if n in wanted}
    for name, fn in plan:
        run_step(run, name, cfg, console, fn)
        variants[name] = run.stage_path(name) / "model"

    cards: dict[str, Any] = {}
    base_card = run_step(run, "eval_base", cfg, console, lambda d: evaluate(base, cfg, console, d))
    cards["base"] = base_card["scorecard"]
    for name, model in variants.items():
        cards[name] = run_step(
            run, f"eval_{name}", cfg, console, lambda d, m=model: evaluate(m, cfg, console, d)
        )["scorecard"]
    head = ["variant", *(METRIC_TITLES[k] for k, _ in ROWS), "train s"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for name, card in cards.items():
        secs = (run.summary(name) or {}).get("seconds", "")
        cells = [format_value(card["metrics"].get(k)) for k, _ in ROWS]
        print(f"| {name} | " + " | ".join(cells) + f" | {secs} |")
    (args.out / "ablation.json").write_text(
        json.dumps({n: c["metrics"] for n, c in cards.items()}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
