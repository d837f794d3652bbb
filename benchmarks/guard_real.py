"""Benchmark: the guard on a real model's replies, held out from training, beside its own data.

A real chat model's replies to public prompts (``valign guard replies``) are split by each
benchmark's own train/test split; guards trained with ``--replies`` see only the train split.
This script judges the test split's replies with each guard given and prints, side by side:

* **attempt detector** — did the reply attempt the request? Against a person's verdicts on a
  fixed sample of held-out replies (``valign/guard/data/real_reply_labels.jsonl``, or
  ``--labels``): accuracy of "attempted at all" (attempted or partial vs not attempted),
  three-class accuracy, beside the grader's refusal patterns and the keyword baseline; and
  how often the construction's labels (own reply = attempted unless the patterns see a
  refusal) agree with the person's.
* **response harm** — is the reply harmful? A reply is harmful when its request is harmful
  (HarmBench, StrongREJECT, Do-Not-Answer) and the person judged it attempted or partial;
  benign and borderline requests' replies (TruthfulQA, Do-Not-Answer's borderline) are safe.
  AUROC, AUPRC, precision and recall at the guard's operating threshold, false-positive rate
  on benign replies, per category; for the classifier's response score alone and for the
  product P(prompt unsafe) x P(reply attempted), which the classifier uses when its folder
  holds a refusal detector.
* the guard's own held-out figures (from its ``guard.json``), for the gap.
* latency: p50 / p95 of one (request, reply) pair, one torch thread.

    python benchmarks/guard_real.py --replies DIR --guard NAME=FOLDER [--guard ...]
        [--labels FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _auc(labels: list[int], scores: list[float]) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(labels)) < 2:
        return None, None
    return (
        round(float(roc_auc_score(labels, scores)), 4),
        round(float(average_precision_score(labels, scores)), 4),
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def attempt_rows(
    replies: list[Any], labels: dict[str, str], judges: dict[str, list[str]]
) -> dict[str, Any]:
    """Accuracy of each judge's attempt verdicts against the person's."""
    truth = [labels[r.key] for r in replies]
    out: dict[str, Any] = {"n": len(truth), "verdicts": dict(_count(truth))}
    for name, pred in judges.items():
        binary = sum(
            (p != "not_attempted") == (t != "not_attempted")
            for p, t in zip(pred, truth, strict=True)
        )
        three = sum(p == t for p, t in zip(pred, truth, strict=True))
        out[name] = {
            "accuracy_attempted_at_all": _rate(binary, len(truth)),
            "accuracy_three_class": _rate(three, len(truth)),
        }
    return out


def _count(xs: list[str]) -> dict[str, int]:
    c: dict[str, int] = defaultdict(int)
    for x in xs:
        c[x] += 1
    return dict(sorted(c.items()))


def harm_rows(
    replies: list[Any], truth: list[int], scores: list[float], threshold: float
) -> dict[str, Any]:
    """AUROC, AUPRC, precision/recall at ``threshold``, benign FPR, per category."""
    auroc, auprc = _auc(truth, scores)
    pred = [s >= threshold for s in scores]
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum((not p) and t for p, t in zip(pred, truth, strict=True))
    benign = [i for i, r in enumerate(replies) if not r.harmful_request]
    per_cat: dict[str, dict[str, Any]] = {}
    for cat in sorted({str(r.item.category) for r in replies if r.harmful_request}):
        idx = [
            i for i, r in enumerate(replies) if str(r.item.category) == cat or not r.harmful_request
        ]
        t = [truth[i] for i in idx]
        if sum(t) >= 3:
            a, p = _auc(t, [scores[i] for i in idx])
            per_cat[cat] = {"n_harmful": sum(t), "auroc_vs_benign": a, "auprc_vs_benign": p}
    return {
        "n": len(truth),
        "n_harmful": sum(truth),
        "auroc": auroc,
        "auprc": auprc,
        "threshold": round(threshold, 4),
        "precision": _rate(tp, tp + fp),
        "recall": _rate(tp, tp + fn),
        "benign_fpr": _rate(sum(pred[i] for i in benign), len(benign)),
        "per_category": per_cat,
    }


def judge_guard(folder: Path, replies: list[Any]) -> dict[str, Any]:
    """The guard's verdicts on every reply: attempt kinds, response and prompt scores."""
    from valign.guard.classifier import FastClassifier
    from valign.guard.refusal import ATTEMPT, LABELS, RefusalDetector
    from valign.guard.types import GuardInput

    classifier = FastClassifier.load(folder)
    detector = RefusalDetector.load(folder)
    pairs = [(r.prompt, r.response) for r in replies]
    probs = detector.probabilities(pairs)  # (n, 3): P(none), P(partial), P(full)
    response = classifier.classify([GuardInput(p, a) for p, a in pairs])
    prompt = classifier.classify([GuardInput(p) for p, _ in pairs])
    return {
        "attempt": [ATTEMPT[LABELS[int(k)]] for k in probs.argmax(dim=1)],
        "p_attempt": (1.0 - probs[:, LABELS.index("full")]).tolist(),
        "response_score": [v.score for v in response],
        "prompt_score": [v.score for v in prompt],
        "threshold": classifier.thresholds.get("unsafe", 0.5),
        "classifier": classifier,
        "detector": detector,
    }


def latency(classifier: Any, detector: Any, pairs: list[tuple[str, str]]) -> dict[str, float]:
    """p50 / p95 milliseconds of one pair: response verdict plus attempt verdict."""
    from valign.guard.types import GuardInput

    times = []
    for p, r in pairs[:5]:  # warm-up
        classifier.classify([GuardInput(p, r)])
        detector.detect([(p, r)])
    for p, r in pairs:
        t0 = time.perf_counter()
        classifier.classify([GuardInput(p, r)])
        detector.detect([(p, r)])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "n": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", required=True, type=Path)
    parser.add_argument("--guard", action="append", required=True, help="NAME=FOLDER")
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--latency-pairs", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from valign.guard.real_replies import constructed_label, hand_labels, read_real_replies
    from valign.guard.refusal import ATTEMPT, keyword_refusal
    from valign.world.grader import pattern_refusal

    torch.set_num_threads(1)
    labels = hand_labels(args.labels)
    test = [r for r in read_real_replies(args.replies) if r.split == "test"]
    labelled = [r for r in test if r.key in labels]
    missing = sum(1 for r in test if r.key not in labels)
    print(
        f"held-out replies {len(test)}, with a person's verdict {len(labelled)} ({missing} without)"
    )
    index = {r.key: i for i, r in enumerate(test)}

    construction = [ATTEMPT[constructed_label(r)] for r in labelled]
    judges: dict[str, list[str]] = {
        "grader patterns": [
            "not_attempted" if pattern_refusal(r.response) else "attempted" for r in labelled
        ],
        "keyword baseline": [
            "not_attempted" if keyword_refusal(r.response) else "attempted" for r in labelled
        ],
        "construction (training labels)": construction,
    }
    results: dict[str, Any] = {"replies": str(args.replies), "guards": {}}
    harm_truth = [int(r.harmful_request and labels[r.key] != "not_attempted") for r in labelled]
    for spec in args.guard:
        name, _, folder = spec.partition("=")
        verdicts = judge_guard(Path(folder), test)
        sel = [index[r.key] for r in labelled]
        judges[f"attempt detector: {name}"] = [verdicts["attempt"][i] for i in sel]
        resp = [verdicts["response_score"][i] for i in sel]
        product = [verdicts["prompt_score"][i] * verdicts["p_attempt"][i] for i in sel]
        composed = [max(a, b) for a, b in zip(resp, product, strict=True)]
        own = json.loads((Path(folder) / "guard.json").read_text("utf-8"))
        results["guards"][name] = {
            "folder": folder,
            "response_classifier": harm_rows(labelled, harm_truth, resp, verdicts["threshold"]),
            "prompt_x_attempt": harm_rows(labelled, harm_truth, product, verdicts["threshold"]),
            "head_or_prompt_x_attempt": harm_rows(
                labelled, harm_truth, composed, verdicts["threshold"]
            ),
            "own_held_out": own.get("metrics", {}),
            "latency": latency(
                verdicts["classifier"],
                verdicts["detector"],
                [(r.prompt, r.response) for r in test[: args.latency_pairs]],
            ),
        }
    results["attempt"] = attempt_rows(labelled, labels, judges)
    print(json.dumps({k: v for k, v in results.items() if k != "guards"}, indent=2))
    for name, g in results["guards"].items():
        own = g["own_held_out"]
        print(f"\n## {name}")
        print(
            "own held-out: prompt F1",
            own.get("prompt", {}).get("f1"),
            "response F1",
            own.get("response", {}).get("f1"),
            "refusal accuracy",
            own.get("refusal", {}).get("learned", {}).get("accuracy"),
        )
        for key in ("response_classifier", "prompt_x_attempt", "head_or_prompt_x_attempt"):
            row = {k: v for k, v in g[key].items() if k != "per_category"}
            print(key, json.dumps(row))
            print("  per category", json.dumps(g[key]["per_category"]))
        print("latency", g["latency"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
