"""RL from AI feedback: the evaluator (or any judge) labels the policy's samples; train on them.

1. ``rlaif_labels``  the judge labels pairs sampled from the policy: comparisons with
                     ``source="ai"``, a principle and a soft label
2. ``rlaif_dpo``     DPO on those labels (or train reward/cost models from them with
                     :func:`valign.train.reward.train_reward_model`)
3. ``direct_rlaif``  online RL whose reward is the evaluator's score

``rlaif_phase`` runs 1 and 2, or 3, resumably. No ground-truth labels are read: prompts
come from any prompt file, replies from the policy itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from valign.cai.evaluator import TrainedEvaluator
from valign.cai.judge import PairItem, Verdict
from valign.cai.sampling import SamplingSettings, sample
from valign.cai.settings import CAISettings
from valign.errors import UserError
from valign.records.comparisons import Comparison, load_comparisons, write_comparisons
from valign.records.messages import Conversation
from valign.train.common import TrainResult
from valign.train.dpo import DPOSettings, train_dpo
from valign.train.rl import RLSettings


class Judge(Protocol):
    """Anything that judges pairs: the LLM judge or the trained evaluator."""

    name: str

    def compare(self, items: Sequence[PairItem]) -> list[Verdict]: ...


def rlaif_labels(
    policy: str | Path | Any,
    convs: Sequence[Conversation],
    judge: Judge,
    s: SamplingSettings,
    min_confidence: float = 0.5,
    scorer: Any = None,
) -> list[Comparison]:
    """AI-labelled comparisons of the policy's own replies.

    ``s.n`` replies are sampled per prompt; the pair judged is the best and the worst by
    ``scorer`` (the evaluator's pointwise score) when one is given, else the first two
    distinct replies. The judge's soft label decides which is chosen; pairs less sure than
    ``min_confidence`` are dropped.
    """
    replies = sample(policy, convs, s)
    items: list[PairItem] = []
    for i, (conv, rs) in enumerate(zip(convs, replies, strict=True)):
        distinct = list(dict.fromkeys(r for r in rs if r.strip()))
        if len(distinct) < 2:
            continue
        if scorer is not None:
            scores = scorer([conv] * len(distinct), distinct)
            ranked = [r for _, r in sorted(zip(scores, distinct, strict=True), reverse=True)]
            a, b = ranked[0], ranked[-1]
        else:
            a, b = distinct[0], distinct[1]
        items.append(PairItem(list(conv), a, b, id=f"rlaif-{i:06d}"))
    verdicts = judge.compare(items)
    rows = []
    for item, v in zip(items, verdicts, strict=True):
        p = max(v.p_a, 1.0 - v.p_a)
        if p < min_confidence:
            continue
        chosen, rejected = (item.a, item.b) if v.p_a >= 0.5 else (item.b, item.a)
        rows.append(
            Comparison(
                id=item.id,
                prompt=item.conversation,
                chosen=chosen,
                rejected=rejected,
                source="ai",
                rater=judge.name,
                principles=[v.principle],
                p_chosen=round(p, 6),
            )
        )
    return rows


def rlaif_dpo(
    policy: str | Path,
    comparisons: Sequence[Comparison] | Path,
    out: Path,
    s: DPOSettings,
    min_confidence: float = 0.0,
    soft: bool = True,
    on_step: Any = None,
) -> TrainResult:
    """DPO on AI-labelled comparisons (the same trainer as RLHF's DPO).

    An AI label is a soft label, and a calibrated evaluator's ``p_chosen`` is how often
    its verdict is right: pairs less sure than ``min_confidence`` are dropped, and with
    ``soft`` the rest train with conservative DPO, the share of flipped labels set to
    what their confidence predicts (``1 - mean(p_chosen)``), unless the settings fix one.
    """
    rows = load_comparisons(comparisons) if isinstance(comparisons, Path) else list(comparisons)
    rows = [r for r in rows if _confidence(r) >= min_confidence]
    if not rows:
        raise UserError("the judge kept no comparisons: lower min_confidence or sample more")
    if soft and not s.label_smoothing and s.loss_type in ("sigmoid", "robust"):
        flipped = sum(1.0 - _confidence(r) for r in rows) / len(rows)
        s = s.model_copy(update={"label_smoothing": round(min(flipped, 0.49), 4)})
    return train_dpo(policy, rows, out, s, on_step=on_step)


def _confidence(row: Comparison) -> float:
    """How sure the label is that ``chosen`` is better (1 for a hard label)."""
    return 1.0 if row.p_chosen is None else row.p_chosen


def evaluator_reward(evaluator: TrainedEvaluator) -> Any:
    """A TRL reward function paying each reply the evaluator's score (no cost model)."""
    from valign.train.rewards import AlignmentReward, SafetySettings

    def reward(convs: Sequence[Conversation]) -> list[float]:
        return evaluator.reward(convs)

    return AlignmentReward(
        reward=reward,
        cost=None,
        rules=None,
        settings=SafetySettings(mode="none", rule_weight=0.0),
    )


def direct_rlaif(
    policy: str | Path,
    prompts: Sequence[Conversation],
    evaluator: TrainedEvaluator,
    out: Path,
    s: RLSettings,
    on_step: Any = None,
) -> TrainResult:
    """Online RL (GRPO/RLOO) with the evaluator's score as the reward."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from valign.train.common import require_model_dir, run
    from valign.train.rl import rl_trainer

    name = require_model_dir(policy)
    tok = AutoTokenizer.from_pretrained(name, padding_side="left")
    rows = [{"prompt": list(c)} for c in prompts]
    trainer = rl_trainer(name, tok, Dataset.from_list(rows), evaluator_reward(evaluator), s, out)
    return run(trainer, out, tok, merge_lora=s.lora is None or s.lora.merge, on_step=on_step)


def save_labels(path: Path, rows: Sequence[Comparison]) -> int:
    return write_comparisons(path, rows)


def rlaif_phase(
    policy: str | Path,
    convs: Sequence[Conversation],
    evaluator: TrainedEvaluator,
    out: Path,
    s: CAISettings,
    on_step: Any = None,
) -> dict[str, Any]:
    """RLAIF from ``policy`` into ``out/model`` by ``s.method``, resumable phase by phase.

    ``dpo``: the evaluator labels the best and worst of ``s.sampling.n`` samples per prompt
    (every soft label is kept in ``out/labels.jsonl``; training filters), then
    :func:`rlaif_dpo`. ``direct``: :func:`direct_rlaif`. Returns what was done; the
    trainer's result (with its log) under ``train`` when it ran now.
    """
    record: dict[str, Any] = {"method": s.method, "model_dir": str(out / "model")}
    trained = (out / "model" / "config.json").is_file()
    if s.method == "direct":
        if not trained:
            record["train"] = direct_rlaif(policy, convs, evaluator, out, s.rl, on_step)
        return record
    labels = out / "labels.jsonl"
    if not labels.is_file():
        rows = rlaif_labels(policy, convs, evaluator, s.sampling, 0.5, evaluator.score)
        save_labels(labels, rows)
    rows = load_comparisons(labels)
    kept = [r for r in rows if _confidence(r) >= s.min_confidence]
    record["labels"] = len(rows)
    record["labels_kept"] = len(kept)
    record["mean_confidence"] = sum(map(_confidence, kept)) / max(1, len(kept))
    if not trained:
        record["train"] = rlaif_dpo(
            policy, kept, out, s.dpo, s.min_confidence, s.soft_labels, on_step
        )
    return record
