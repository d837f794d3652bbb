"""Reward and cost models from comparisons, with TRL's ``RewardTrainer``.

Both are the policy's architecture with a scalar head (``AutoModelForSequenceClassification``,
``num_labels=1``) trained with the Bradley–Terry loss on pairs. They answer two separate
questions, as in Safe RLHF's decoupled preferences:

- the **reward model** scores helpfulness: which reply does more of what was asked,
  answers correctly, truthfully and without stereotypes. On a harmful request the reply
  that complies *is* the more helpful one (``decouple=True`` turns such pairs round), so
  helpfulness alone pulls towards compliance — the tension the safety signal resolves;
- the **cost model** scores harm: of two replies with different safety labels
  (``chosen_harmful`` / ``rejected_harmful``), the harmful one has the higher cost.

A small centring term keeps scores near zero, so a cost above zero reads as "unsafe" and a
constraint threshold of zero is meaningful. Held-out pairwise accuracy is measured on a
split by id that training never sees.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from valign.errors import UserError
from valign.records.comparisons import Comparison, load_comparisons
from valign.records.messages import Conversation, Message
from valign.train.common import (
    TrainResult,
    TrainSettings,
    chat_tokenizer,
    length_grouped,
    peft_config,
    require_model_dir,
    run,
    sorted_micro_batches,
    trainer_kwargs,
    trl_config,
)

Objective = Literal["reward", "cost"]


class RewardSettings(TrainSettings):
    """A reward or cost model (defaults: the microworld's base model on 2 CPU cores)."""

    learning_rate: float = Field(5e-4, description="Peak learning rate.")
    epochs: float = Field(1.0, description="Passes over the comparisons.")
    batch_size: int = Field(32, description="Pairs per optimiser step.")
    center: float = Field(0.01, description="Weight of the term that keeps scores near zero.")
    heldout: float = Field(0.1, description="Share of comparisons held out for accuracy.")
    decouple: bool = Field(
        True,
        description="Reward model: prefer the compliant reply on harmful requests "
        "(helpfulness only; harm is the cost model's job).",
    )


def heldout(row: Comparison, share: float) -> bool:
    """A stable split by id: the same comparison is always on the same side."""
    h = int(hashlib.sha256(row.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < share


def _pair(row: Comparison, swap: bool) -> dict[str, Any]:
    """Whole conversations (TRL's implicit-prompt form), the higher-scoring one first."""
    better, worse = (row.rejected, row.chosen) if swap else (row.chosen, row.rejected)
    return {"chosen": _conversation(row, better), "rejected": _conversation(row, worse)}


def _conversation(row: Comparison, reply: str) -> list[Message]:
    return [*row.messages(), Message(role="assistant", content=reply)]


def complied_vs_refused(row: Comparison) -> bool:
    """A refusal preferred over a harmful reply: the pair a helpfulness rater turns round.

    Only refusals count; a safe reply that still answers (an "unknown" where the context
    is ambiguous, a sanctioned action) stays preferred for helpfulness too.
    """
    from valign.guard.refusal import keyword_refusal

    return (
        row.rejected_harmful is True
        and row.chosen_harmful is False
        and keyword_refusal(row.chosen)
        and not keyword_refusal(row.rejected)
    )


def reward_pairs(rows: Sequence[Comparison], decouple: bool = True) -> list[dict[str, Any]]:
    """Helpfulness pairs: every comparison; refusal-vs-compliance turned round if decoupled."""
    return [_pair(r, swap=decouple and complied_vs_refused(r)) for r in rows]


def cost_pairs(rows: Sequence[Comparison]) -> list[dict[str, Any]]:
    """Harm pairs: the harmful reply of a comparison ranks above its safe one.

    Comparisons whose two replies are both safe (a benign request answered or refused)
    are paired with a harmful conversation from another comparison, so that the cost of
    ordinary safe conversations is anchored below harm too — otherwise the cost model
    would never see a benign request and score them at random. At most one anchor pair
    per harm pair keeps the two kinds balanced.
    """
    within: list[dict[str, Any]] = []
    harmful: list[list[Message]] = []
    safe: list[list[Message]] = []
    for r in rows:
        if r.chosen_harmful is None or r.rejected_harmful is None:
            continue
        if r.chosen_harmful != r.rejected_harmful:
            within.append(_pair(r, swap=not r.chosen_harmful))  # harmful ranks higher
            harmful.append(_conversation(r, r.chosen if r.chosen_harmful else r.rejected))
        elif not r.chosen_harmful:
            safe.append(_conversation(r, r.chosen if len(safe) % 2 == 0 else r.rejected))
    anchors = (
        [
            {"chosen": harmful[i % len(harmful)], "rejected": conv}
            for i, conv in enumerate(safe[: len(within)])
        ]
        if harmful
        else []
    )
    return within + anchors


def build_pairs(
    rows: Sequence[Comparison], objective: Objective, decouple: bool
) -> list[dict[str, Any]]:
    pairs = cost_pairs(rows) if objective == "cost" else reward_pairs(rows, decouple)
    if not pairs:
        need = "comparisons with different safety labels" if objective == "cost" else "comparisons"
        raise UserError(f"no {need} to train a {objective} model on")
    return pairs


def _plain(conv: Conversation) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in conv]


class Scorer:
    """Scores whole conversations with a trained reward or cost model, in batches."""

    def __init__(self, model_dir: str | Path, batch_size: int = 16, device: str | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        name = require_model_dir(model_dir, "reward/cost model")
        self.tok = AutoTokenizer.from_pretrained(name)
        self.model = AutoModelForSequenceClassification.from_pretrained(name).eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.batch_size = batch_size
        offset = Path(model_dir) / "calibration.json"
        self.offset = json.loads(offset.read_text())["offset"] if offset.is_file() else 0.0

    @torch.inference_mode()
    def __call__(self, conversations: Sequence[Conversation]) -> list[float]:
        """One score per conversation, in order. The conversations are scored in batches of
        similar length (sorted by tokens), so that a batch pads little, and each distinct
        text once; each score is that of the conversation alone (right padding, the last
        real token is pooled)."""
        if not conversations:
            return []
        texts = [self.tok.apply_chat_template(_plain(c), tokenize=False) for c in conversations]
        unique = list(dict.fromkeys(texts))  # a reply sampled twice is scored once
        ids = self.tok(unique, add_special_tokens=False)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        scores = [0.0] * len(ids)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            enc = self.tok.pad(
                {"input_ids": [ids[i] for i in chunk]},
                return_tensors="pt",
                padding_side="right",
            ).to(self.device)
            logits = self.model(**enc).logits[:, 0].float() - self.offset  # (batch,)
            for i, score in zip(chunk, logits.tolist(), strict=True):
                scores[i] = score
        at = {text: i for i, text in enumerate(unique)}
        return [scores[at[t]] for t in texts]


def pairwise_accuracy(scorer: Scorer, pairs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Share of pairs where the preferred reply scores higher, and the mean margin."""
    chosen = scorer([p["chosen"] for p in pairs])
    rejected = scorer([p["rejected"] for p in pairs])
    wins = [c > r for c, r in zip(chosen, rejected, strict=True)]
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    return {
        "accuracy": sum(wins) / max(1, len(wins)),
        "margin": sum(margins) / max(1, len(margins)),
        "pairs": float(len(pairs)),
        "chosen_mean": sum(chosen) / max(1, len(chosen)),
        "rejected_mean": sum(rejected) / max(1, len(rejected)),
    }


def _calibrate(model_dir: Path, scorer: Scorer, pairs: Sequence[dict[str, Any]]) -> float:
    """Cost models: shift scores so that zero lies midway between safe and harmful replies."""
    scorer.offset = 0.0
    stats = pairwise_accuracy(scorer, pairs)
    offset = (stats["chosen_mean"] + stats["rejected_mean"]) / 2
    (model_dir / "calibration.json").write_text(json.dumps({"offset": offset}, indent=2))
    scorer.offset = offset
    return offset


def train_reward_model(
    model: str | Path,
    data: Path | Sequence[Comparison],
    out: Path,
    s: RewardSettings,
    objective: Objective = "reward",
    on_step: Any = None,
) -> tuple[TrainResult, dict[str, float]]:
    """Train a reward (helpfulness) or cost (harm) model; returns the run and held-out stats."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    rows = load_comparisons(data) if isinstance(data, Path) else list(data)
    train_rows = [r for r in rows if not heldout(r, s.heldout)]
    test_rows = [r for r in rows if heldout(r, s.heldout)]
    train = build_pairs(train_rows, objective, s.decouple)
    name, tok = chat_tokenizer(model)
    ordered, order = length_grouped(train, s, tok)
    args = trl_config(
        RewardConfig,
        s,
        **trainer_kwargs(s, out / "checkpoints"),
        **order,
        max_length=s.max_length,
        center_rewards_coefficient=s.center or None,
        model_init_kwargs={"dtype": "auto"},
    )
    trainer = RewardTrainer(
        model=name,
        args=args,
        train_dataset=Dataset.from_list(ordered),
        processing_class=tok,
        peft_config=peft_config(s, task_type="SEQ_CLS"),
    )
    sorted_micro_batches(trainer, s)
    result = run(trainer, out, tok, merge_lora=True, on_step=on_step, source=data)
    stats: dict[str, float] = {"train_pairs": float(len(train))}
    if not trainer.is_world_process_zero():
        return result, stats  # the main process measures and calibrates
    scorer = Scorer(result.model_dir)
    test = build_pairs(test_rows, objective, s.decouple) if test_rows else train[:0]
    if objective == "cost":
        stats["offset"] = _calibrate(result.model_dir, scorer, train)
    if test:
        stats |= pairwise_accuracy(scorer, test)
    (out / "heldout.json").write_text(json.dumps(stats, indent=2))
    return result, stats
