"""The trained evaluator's agreement with held-out ground-truth comparisons.

    python benchmarks/cai_evaluator.py --pairs WORLD/preferences.jsonl --seed-size 1000 \
        [--out OUT_FOLDER]

Trains on the default constitution's labelled examples and the first ``--seed-size``
comparisons; every later comparison of the file is held out. Prints accuracy, Cohen's
kappa and calibration overall, per microworld item kind and per principle.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from valign.cai.evaluator import EvaluatorSettings, pair_items, train_evaluator
from valign.feedback.agreement import agreement
from valign.records.comparisons import load_comparisons
from valign.values import load_constitution


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pairs", type=Path, required=True)
    p.add_argument("--seed-size", type=int, default=1000)
    p.add_argument("--focus", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = load_comparisons(a.pairs)
    seed, held = rows[: a.seed_size], rows[a.seed_size :]
    c = load_constitution("default")
    t = time.time()
    ev = train_evaluator(c, seed, EvaluatorSettings(threads=a.threads, focus=a.focus))
    trained = time.time() - t
    items, truth = pair_items(held, c, seed=1)
    t = time.time()
    verdicts = ev.compare(items)
    judged = time.time() - t
    by_principle = agreement(verdicts, truth)
    by_kind = agreement(verdicts, truth, [r.kind or "?" for r in held])
    o = by_principle["overall"]
    acc = o["accuracy"]
    print(
        f"seed {a.seed_size}, held out {o['n']}: accuracy {acc['value']:.3f} "
        f"[{acc['low']:.3f}, {acc['high']:.3f}], kappa {o['kappa']:.3f}, ECE {o['ece']:.3f}, "
        f"Brier {o['brier']:.3f} (train {trained:.0f} s, judge {judged:.0f} s)"
    )
    for title, report in (("kind", by_kind), ("principle", by_principle)):
        for name, r in report["groups"].items():
            print(
                f"  {title:9s} {name:26s} n={r['n']:5d} acc={r['accuracy']['value']:.3f} "
                f"kappa={r['kappa']:.3f} ECE={r['ece']:.3f}"
            )
    if a.out:
        ev.save(a.out)
        (a.out / "agreement.json").write_text(
            json.dumps({"by_principle": by_principle, "by_kind": by_kind}, indent=2)
        )


if __name__ == "__main__":
    main()
