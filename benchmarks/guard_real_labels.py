"""Benchmark: what a person's labels on the train split buy the attempt detector.

The detector's labels by construction agree with a person on about 70% of a real model's
replies (``benchmarks/guard_real.py``), and detectors trained on them barely beat "always
attempted". This script trains detectors on a person's verdicts on train-split replies
(``valign/guard/data/real_reply_train_labels.jsonl``, or ``--train-labels``; joined to the
replies by id and reply hash) and judges them on the held-out person labels
(``real_reply_labels.jsonl``, or ``--labels``) with guard_real.py's figures:

* attempted-at-all accuracy, three-class accuracy, AUROC of P(not attempted);
* response harm, P(request unsafe, the guard's prompt score) x P(reply attempted): AUROC,
  AUPRC, precision and recall at the guard's operating threshold, benign false-positive rate.

Variants, each setting chosen by k-fold cross-validation on the train labels only (the
held-out labels are read for the final figures, never to choose):

* ``constant`` and the guard's own detector (``--guard``), for reference;
* ``a: blocks`` — the detector's logistic head over its MiniLM feature blocks
  (:func:`valign.guard.refusal.fit_linear_refusal_head`, what ``valign guard train --labels``
  fits);
* ``a: blocks + construction`` — the same with the construction's labelled pairs added to
  every training fold;
* ``b: hand`` and ``b: blocks + hand`` — cheap features no embedding gives: request-reply
  cosine, refusal phrases in the opening, length, repetition, lexical overlap with the
  request, negation and self-description markers;
* ``c: cross-encoder`` (``--cross-encoder EPOCHS``, slow on a CPU) — MiniLM fine-tuned on
  (request, reply) pairs with a linear head.

    python benchmarks/guard_real_labels.py --replies DIR [--guard FOLDER]
        [--train-labels FILE ...] [--labels FILE] [--cross-encoder 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import torch
from guard_real import _auc, _rate, harm_rows

L2_GRID = (0.003, 0.03, 0.1, 0.3, 1.0, 3.0)
_WORD = re.compile(r"[a-z0-9']+")
_NEGATION = ("not ", "no ", "never", "n't", "cannot", "myth", "misconception", "false")
_PUSHBACK = ("stereotype", "generaliz", "untrue", "incorrect", "important to")
_SELF = (
    "as a chatbot",
    "as an ai",
    "i don't have",
    "i do not have",
    "language model",
    "my purpose",
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _repeated(words: list[str], n: int) -> float:
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def hand_features(prompt: str, reply: str, cos_reply: float, cos_opening: float) -> list[float]:
    """Cheap features of one (request, reply): on-topic, refusal phrases, length, repetition,
    overlap with the request, negation, self-description."""
    from valign.guard.refusal import keyword_refusal, opening
    from valign.world.grader import is_non_answer, pattern_refusal

    low = reply.lower().replace("\u2019", "'")
    first = opening(reply)
    head = " ".join(low.split()[:40])
    words, asked = _words(reply), {w for w in _words(prompt) if len(w) > 3}
    return [
        cos_reply,
        cos_opening,
        float(pattern_refusal(first)),
        float(pattern_refusal(reply)),
        float(keyword_refusal(first)),
        float(keyword_refusal(reply)),
        float(is_non_answer(reply.strip())),
        math.log1p(len(words)),
        _repeated(words, 3),
        _repeated(words, 1),
        sum(c.isalpha() for c in reply) / max(len(reply), 1),
        len(asked & set(words)) / len(asked) if asked else 0.0,
        len(asked & set(_words(first))) / len(asked) if asked else 0.0,
        sum(head.count(m) for m in _NEGATION) / 5,
        sum(head.count(m) for m in _PUSHBACK) / 2,
        sum(low.count(m) for m in _SELF) / 3,
        float(reply.rstrip()[-1:] in ".!?"),
    ]


class Features:
    """Embeddings of each (request, reply) once; feature sets per variant."""

    def __init__(self, encoder: Any, pairs: list[tuple[str, str]]) -> None:
        from valign.guard.refusal import opening

        openings = [opening(r) for _, r in pairs]
        texts = list(dict.fromkeys([r for _, r in pairs] + openings + [p for p, _ in pairs]))
        index = {t: k for k, t in enumerate(texts)}
        emb = encoder.encode(texts)  # (n_texts, dim)
        self.pairs = pairs
        self.row = {pair: k for k, pair in enumerate(pairs)}
        self.reply = emb[[index[r] for _, r in pairs]]
        self.opening = emb[[index[o] for o in openings]]
        self.prompt = emb[[index[p] for p, _ in pairs]]
        half = encoder.hidden_size  # the mean-pooled part, L2-normalised
        cos_r = (self.reply[:, :half] * self.prompt[:, :half]).sum(1).tolist()
        cos_o = (self.opening[:, :half] * self.prompt[:, :half]).sum(1).tolist()
        self.hand = torch.tensor(
            [hand_features(p, r, a, b) for (p, r), a, b in zip(pairs, cos_r, cos_o, strict=True)]
        )

    def get(self, kind: str, pairs: list[tuple[str, str]]) -> torch.Tensor:
        from valign.guard.refusal import FEATURE_BLOCKS, feature_blocks

        i = [self.row[p] for p in pairs]
        blocks = feature_blocks(self.reply[i], self.opening[i], self.prompt[i], FEATURE_BLOCKS)
        if kind == "blocks":
            return blocks
        if kind == "hand":
            return self.hand[i]
        return torch.cat([blocks, self.hand[i]], dim=1)


def _fit_predict(x: torch.Tensor, y: torch.Tensor, x_new: torch.Tensor, l2: float) -> torch.Tensor:
    from valign.guard.refusal import fit_linear_refusal_head

    head = fit_linear_refusal_head(x, y, l2)
    with torch.inference_mode():
        return torch.softmax(head(x_new), dim=-1)  # (n_new, 3)


def _folds(y: list[int], k: int, seed: int) -> list[list[int]]:
    """Stratified folds: each class dealt round-robin after a seeded shuffle."""
    gen = torch.Generator().manual_seed(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    at = 0
    for c in sorted(set(y)):
        members = [i for i, v in enumerate(y) if v == c]
        for j in torch.randperm(len(members), generator=gen).tolist():
            folds[at % k].append(members[j])
            at += 1
    return folds


def _binary(probs: torch.Tensor, truth: list[str]) -> tuple[float, float | None]:
    from valign.guard.refusal import LABELS

    full = LABELS.index("full")
    pred = probs.argmax(dim=1).tolist()
    acc = sum((p == full) == (t == "not_attempted") for p, t in zip(pred, truth, strict=True))
    auroc, _ = _auc([int(t == "not_attempted") for t in truth], probs[:, full].tolist())
    return acc / len(truth), auroc


def cross_validate(
    x: torch.Tensor,
    truth: list[str],
    l2: float,
    k: int,
    extra: tuple[torch.Tensor, torch.Tensor] | None = None,
    seeds: tuple[int, ...] = (0, 1),
) -> tuple[float, float]:
    """Mean attempted-at-all accuracy and AUROC over k folds (x seeds); ``extra`` rows join
    every training fold."""
    from valign.guard.real_replies import VERDICT_KIND
    from valign.guard.refusal import LABELS

    y = torch.tensor([LABELS.index(VERDICT_KIND[t]) for t in truth])
    accs, aucs = [], []
    for seed in seeds:
        probs = torch.zeros(len(truth), len(LABELS))
        for fold in _folds(y.tolist(), k, seed):
            keep = torch.ones(len(truth), dtype=torch.bool)
            keep[fold] = False
            xt, yt = x[keep], y[keep]
            if extra is not None:
                xt, yt = torch.cat([xt, extra[0]]), torch.cat([yt, extra[1]])
            probs[fold] = _fit_predict(xt, yt, x[fold], l2)
        acc, auc = _binary(probs, truth)
        accs.append(acc)
        aucs.append(auc or 0.5)
    return sum(accs) / len(accs), sum(aucs) / len(aucs)


def cross_encoder_scores(
    fit: list[tuple[str, str]], y_fit: list[int], new: list[tuple[str, str]], epochs: int
) -> list[float]:
    """P(not attempted) for ``new`` from MiniLM fine-tuned on (request, reply) pairs.

    Mean-pooled pair encoding, a linear head, binary cross-entropy; AdamW at 3e-5 (encoder)
    and 1e-3 (head), batches of 16, linear warm-up and decay, 192 tokens. One torch thread.
    """
    from transformers import AutoModel, AutoTokenizer

    from valign.guard.encoder import encoder_path

    torch.manual_seed(0)
    tok: Any = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    enc: Any = AutoModel.from_pretrained(encoder_path(), local_files_only=True)
    head = torch.nn.Linear(enc.config.hidden_size, 1)
    opt = torch.optim.AdamW(
        [{"params": enc.parameters(), "lr": 3e-5}, {"params": head.parameters(), "lr": 1e-3}],
        weight_decay=0.01,
    )
    steps = epochs * math.ceil(len(fit) / 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 10) * max(0.0, 1 - s / steps)
    )

    def logits(batch: list[tuple[str, str]]) -> torch.Tensor:
        t = tok(
            [p for p, _ in batch],
            [r for _, r in batch],
            truncation="longest_first",
            max_length=192,
            padding=True,
            return_tensors="pt",
        )
        hidden = enc(**t).last_hidden_state  # (b, seq, hidden)
        mask = t["attention_mask"].unsqueeze(-1).float()  # (b, seq, 1)
        return head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)  # (b,)

    gen = torch.Generator().manual_seed(0)
    target = torch.tensor(y_fit, dtype=torch.float)
    enc.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(fit), generator=gen).split(16):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits([fit[i] for i in idx.tolist()]), target[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    enc.eval()
    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(new), 32):
            out += torch.sigmoid(logits(new[i : i + 32])).tolist()
    return out


def held_out_row(
    truth: list[str], probs: torch.Tensor, replies: list[Any], prompt: list[float], thr: float
) -> dict[str, Any]:
    """guard_real.py's figures for one variant's (n, 3) probabilities on the held-out set."""
    from valign.guard.refusal import ATTEMPT, LABELS

    kinds = [ATTEMPT[LABELS[int(k)]] for k in probs.argmax(dim=1)]
    acc, auroc = _binary(probs, truth)
    three = sum(k == t for k, t in zip(kinds, truth, strict=True))
    attempted = (1.0 - probs[:, LABELS.index("full")]).tolist()
    harm_truth = [
        int(r.harmful_request and t != "not_attempted") for r, t in zip(replies, truth, strict=True)
    ]
    harm = [p * a for p, a in zip(prompt, attempted, strict=True)]
    # With the request's harm known (its benchmark says it is harmful): the attempt
    # detector's share of the harm figure, free of the prompt classifier's errors.
    known = [float(r.harmful_request) * a for r, a in zip(replies, attempted, strict=True)]
    return {
        "accuracy_attempted_at_all": round(acc, 4),
        "accuracy_three_class": _rate(three, len(truth)),
        "auroc_not_attempted": auroc,
        "harm_prompt_x_attempt": harm_rows(replies, harm_truth, harm, thr),
        "harm_known_request_auroc": _auc(harm_truth, known)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", required=True, type=Path)
    parser.add_argument("--guard", type=Path, default=None, help="default: the default guard")
    parser.add_argument("--train-labels", type=Path, action="append", default=[])
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cross-encoder", type=int, default=0, help="epochs; 0 skips it")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from valign.guard.build import ensure_default_guard
    from valign.guard.classifier import FastClassifier
    from valign.guard.real_replies import (
        VERDICT_KIND,
        hand_labels,
        person_labels,
        read_real_replies,
        real_reply_examples,
    )
    from valign.guard.refusal import LABELS, RefusalDetector
    from valign.guard.types import GuardInput

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    replies = read_real_replies(args.replies)
    train_labels = person_labels(replies, args.train_labels)
    test_labels = hand_labels(args.labels)
    train = [r for r in replies if r.key in train_labels]
    test = [r for r in replies if r.split == "test" and r.key in test_labels]
    y_train = [train_labels[r.key] for r in train]
    y_test = [test_labels[r.key] for r in test]
    labelled = {(r.prompt, r.response) for r in train + test}
    # The construction's label for a reply a person judged would contradict the person's.
    construction = [
        c for c in real_reply_examples(replies) if (c.prompt, c.response) not in labelled
    ]
    print(
        f"train: {len(train)} replies with a person's verdict; held out: {len(test)}; "
        f"construction pairs: {len(construction)}"
    )
    guard = args.guard or ensure_default_guard()
    detector = RefusalDetector.load(guard)
    classifier = FastClassifier.load(guard)
    pairs = list(
        dict.fromkeys(
            [(r.prompt, r.response) for r in train + test]
            + [(c.prompt, c.response) for c in construction]
        )
    )
    feats = Features(detector.encoder, pairs)
    tr_pairs = [(r.prompt, r.response) for r in train]
    te_pairs = [(r.prompt, r.response) for r in test]
    prompt = [v.score for v in classifier.classify([GuardInput(p) for p, _ in te_pairs])]
    threshold = classifier.thresholds.get("unsafe", 0.5)
    y_idx = torch.tensor([LABELS.index(VERDICT_KIND[t]) for t in y_train])
    c_pairs = [(c.prompt, c.response) for c in construction]
    c_y = torch.tensor([LABELS.index(c.refusal) for c in construction])
    print(f"features ready in {time.perf_counter() - t0:.0f} s")

    results: dict[str, Any] = {"n_train": len(train), "n_test": len(test), "variants": {}}
    constant = torch.zeros(len(test), len(LABELS))
    constant[:, 0] = 1.0
    fixed = {
        "constant 'attempted'": constant,
        "guard's own detector": detector.probabilities(te_pairs),
    }
    for name, probs in fixed.items():
        results["variants"][name] = held_out_row(y_test, probs, test, prompt, threshold)
    specs = {
        "a: blocks": ("blocks", False),
        "a: blocks + construction": ("blocks", True),
        "b: hand": ("hand", False),
        "b: blocks + hand": ("blocks+hand", False),
    }
    for name, (kind, with_construction) in specs.items():
        x = feats.get(kind, tr_pairs)
        extra = (feats.get(kind, c_pairs), c_y) if with_construction else None
        cv = {l2: cross_validate(x, y_train, l2, args.folds, extra) for l2 in L2_GRID}
        l2 = max(cv, key=lambda v: sum(cv[v]))
        xt, yt = (torch.cat([x, extra[0]]), torch.cat([y_idx, extra[1]])) if extra else (x, y_idx)
        probs = _fit_predict(xt, yt, feats.get(kind, te_pairs), l2)
        row = held_out_row(y_test, probs, test, prompt, threshold)
        row["l2"] = l2
        row["cv"] = {str(k): [round(a, 4), round(u, 4)] for k, (a, u) in cv.items()}
        results["variants"][name] = row
        print(f"{name}: l2 {l2}, cv accuracy/AUROC {cv[l2][0]:.3f}/{cv[l2][1]:.3f}")
    if args.cross_encoder:
        y_bin = [int(t == "not_attempted") for t in y_train]
        p_full = torch.tensor(cross_encoder_scores(tr_pairs, y_bin, te_pairs, args.cross_encoder))
        probs = torch.stack([1 - p_full, torch.zeros_like(p_full), p_full], dim=1)
        row = held_out_row(y_test, probs, test, prompt, threshold)
        row["epochs"] = args.cross_encoder
        results["variants"]["c: cross-encoder"] = row

    print(f"\nheld-out figures ({len(test)} replies, a person's verdicts)")
    print(
        "variant | attempted at all | three classes | AUROC P(not attempted) | harm AUROC | "
        "AUPRC | precision / recall | benign FPR | harm AUROC, request known"
    )
    for name, row in results["variants"].items():
        h = row["harm_prompt_x_attempt"]
        print(
            f"{name} | {row['accuracy_attempted_at_all']} | {row['accuracy_three_class']} | "
            f"{row['auroc_not_attempted']} | {h['auroc']} | {h['auprc']} | "
            f"{h['precision']} / {h['recall']} | {h['benign_fpr']} | "
            f"{row['harm_known_request_auroc']}"
        )
    print(f"wall {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
