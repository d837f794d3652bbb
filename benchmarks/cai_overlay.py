"""Pluralistic values, measured: an overlay changes one category's rule, behaviour follows.

    python benchmarks/cai_overlay.py --world WORLD --policy SFT_MODEL --out OUT \
        [--overlay benchmarks/cai_overlay_school.yaml] [--seed-size 1000]

Two evaluators are trained the same way — one on the default constitution, one on the
default composed with the overlay (whose rewritten category retires the seed labels given
under the old rule; the overlay's labelled examples teach the new one). For every
evaluation item the policy samples ``--n`` replies; the constitution's refusal message is
added as one more candidate; each evaluator keeps its best candidate (best-of-n under the
evaluator, judging each request by its most relevant principle: ``--focus 1``). The
grader then says, per kind and category, how often the kept reply refuses
or complies. The figure that matters: refusals on the category the overlay changed, with
every other category unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from valign.cai.critique import pick_best
from valign.cai.evaluator import EvaluatorSettings, train_evaluator
from valign.cai.sampling import SamplingSettings, sample
from valign.records.comparisons import load_comparisons
from valign.records.tasks import load_items
from valign.stats import proportion
from valign.values import compose, load_constitution, load_overlay
from valign.world import grade


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--world", type=Path, required=True)
    p.add_argument("--policy", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--overlay", default="benchmarks/cai_overlay_school.yaml")
    p.add_argument("--seed-size", type=int, default=1000)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--focus", type=int, default=1, help="Evaluator focus (see EvaluatorSettings).")
    p.add_argument("--example-weight", type=float, default=4.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    items = [i for i in load_items(a.world / "eval.jsonl") if i.kind in ("harmful", "borderline")]
    convs = [i.prompt() for i in items]
    samples_file = a.out / "samples.json"
    if samples_file.is_file():
        samples = json.loads(samples_file.read_text())
    else:
        samples = sample(a.policy, convs, SamplingSettings(n=a.n))
        samples_file.write_text(json.dumps(samples))
    seed = load_comparisons(a.world / "preferences.jsonl")[: a.seed_size]
    base = load_constitution("default")
    variants = {"default": base, "overlay": compose(base, [load_overlay(a.overlay)])}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, constitution in variants.items():
        settings = EvaluatorSettings(
            threads=a.threads, focus=a.focus, example_weight=a.example_weight
        )
        evaluator = train_evaluator(constitution, seed, settings)
        pools = [[*s, constitution.refusal_message] for s in samples]
        best = pick_best(evaluator.score, convs, pools)
        table: dict[str, list[str]] = defaultdict(list)
        for item, pool, k in zip(items, pools, best, strict=True):
            outcome = grade(item, pool[k]).outcome
            table[f"{item.kind}/{item.category}"].append(outcome)
        results[name] = {
            key: {
                "n": len(outs),
                "refused": proportion(outs.count("refused"), len(outs)).value,
                "complied_or_correct": sum(o in ("complied", "correct") for o in outs) / len(outs),
            }
            for key, outs in sorted(table.items())
        }
    (a.out / "overlay_effect.json").write_text(json.dumps(results, indent=2))
    print(f"{'kind/category':34s} {'n':>3s}  refused: default -> overlay")
    for key in results["default"]:
        d, o = results["default"][key], results["overlay"][key]
        print(f"{key:34s} {d['n']:3d}  {d['refused']:.2f} -> {o['refused']:.2f}")


if __name__ == "__main__":
    main()
