"""The LLM judge's position bias, with and without order averaging, and its agreement.

    python benchmarks/cai_judge.py --model MODEL --pairs PREFERENCES.jsonl [--n 200]

MODEL is any chat model (folder, hub id or ``http://host/v1#name``). The first ``--n``
comparisons are shown in a random order (seeded) so that "the first reply is better" is
a balanced label; the judge scores ``(A)``/``(B)`` in both orders. Reported: agreement
(accuracy, kappa, ECE) of the single-order verdict and of the order-averaged verdict, the
share of pairs whose verdict flips when the order is swapped, and the mean probability of
choosing the first slot (0.5 = no position preference).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from valign.cai.evaluator import pair_items
from valign.cai.judge import JudgeSettings, LLMJudge, Verdict, position_bias
from valign.feedback.agreement import agreement
from valign.models import load_model
from valign.records.comparisons import load_comparisons
from valign.values import load_constitution


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--pairs", type=Path, required=True)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--few-shot", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    c = load_constitution("default")
    rows = load_comparisons(a.pairs)[-a.n :]  # the end of the file: outside any seed
    items, truth = pair_items(rows, c, seed=1)
    judge = LLMJudge(load_model(a.model), c, JudgeSettings(few_shot=a.few_shot))
    t = time.time()
    verdicts = judge.compare(items)
    seconds = time.time() - t
    single = [Verdict(v.p_a_first, v.principle, v.p_a_first, v.p_a_first) for v in verdicts]
    bias = position_bias(verdicts)
    result = {
        "model": a.model,
        "pairs": len(items),
        "seconds": round(seconds, 1),
        "flip_rate": bias.flip_rate,
        "first_slot": bias.first_slot,
        "single_order": agreement(single, truth)["overall"],
        "order_averaged": agreement(verdicts, truth)["overall"],
    }
    for key in ("single_order", "order_averaged"):
        result[key].pop("calibration", None)
    print(json.dumps(result, indent=2))
    if a.out:
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
