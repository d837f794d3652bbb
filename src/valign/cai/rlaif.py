"""Constitutional AI: supervised critique-revision, then RL from AI feedback.

Phases, each a function the pipeline (or a script) can call on its own:

1. ``fit_evaluator``    the trained evaluator from the constitution's examples and a small
                        labelled seed of comparisons (the only human-style labels used)
2. ``supervised_cai``   the policy answers, critiques and revises its answers under the
                        constitution; the evaluator keeps the best of the original, the
                        revisions and extra samples; SFT on the kept answers
3. ``rlaif_labels``     the evaluator (or any judge) labels pairs sampled from the policy:
                        comparisons with ``source="ai"``, a principle and a soft label
4. ``rlaif_dpo``        DPO on those labels (or train reward/cost models from them with
                        :func:`valign.train.reward.train_reward_model`)
5. ``direct_rlaif``     online RL whose reward is the evaluator's score

No ground-truth labels are read after phase 1: prompts come from any prompt file, replies
from the policy itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from valign.cai.critique import CritiqueSettings, critique_revise, write_sft, write_traces
from valign.cai.evaluator import EvaluatorSettings, TrainedEvaluator, train_evaluator
from valign.cai.judge import PairItem, Verdict
from valign.errors import UserError
from valign.models import GenerationConfig, load_model
from valign.records.comparisons import Comparison, load_comparisons, write_comparisons
from valign.records.messages import Conversation
from valign.train.common import TrainResult
from valign.train.dpo import DPOSettings, train_dpo
from valign.train.rl import RLSettings
from valign.train.sft import SFTSettings, sft
from valign.values import Constitution


class Judge(Protocol):
    """Anything that judges pairs: the LLM judge or the trained evaluator."""

    name: str

    def compare(self, items: Sequence[PairItem]) -> list[Verdict]: ...


RLAIFMethod = Literal["dpo", "direct"]


class SamplingSettings(BaseModel):
    """How the policy's candidate replies are sampled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int = Field(4, ge=1, description="Replies sampled per prompt.")
    temperature: float = Field(1.0, description="Sampling temperature.")
    max_new_tokens: int = Field(48, description="Longest reply in tokens.")
    batch_size: int = Field(64, description="Conversations per generation batch.")
    seed: int = Field(0, description="Seed of the first sample; sample k uses seed + k.")


class CAISettings(BaseModel):
    """Supervised CAI and RLAIF (defaults: the microworld on 2 CPU cores)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed_size: int = Field(1000, description="Labelled comparisons the evaluator learns from.")
    prompts: int = Field(2000, description="Prompts used from the prompt file (0: all).")
    evaluator: EvaluatorSettings = Field(default_factory=EvaluatorSettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    critique: CritiqueSettings = Field(default_factory=lambda: CritiqueSettings(n_revisions=1))
    critique_principles: int = Field(
        1, description="Most relevant principles (by the evaluator) a critique may draw from."
    )
    sft: SFTSettings = Field(default_factory=lambda: SFTSettings(learning_rate=3e-4, epochs=3))
    method: RLAIFMethod = Field(
        "dpo",
        description="RLAIF: 'dpo' (DPO on the AI labels) or 'direct' (online RL with the "
        "evaluator's score as the reward).",
    )
    min_confidence: float = Field(
        0.8, description="RLAIF DPO: train on pairs whose soft label is at least this sure."
    )
    soft_labels: bool = Field(
        True,
        description="RLAIF DPO: conservative DPO, the share of flipped labels set to what "
        "the kept labels' confidence predicts.",
    )
    dpo: DPOSettings = Field(default_factory=DPOSettings)
    rl: RLSettings = Field(
        default_factory=lambda: RLSettings(max_steps=40), description="Direct RLAIF's trainer."
    )


def prompts_from(path: Path, limit: int = 0) -> list[Conversation]:
    """Conversations ending in a user turn, from a comparison, demonstration or prompt file."""
    from valign.train.rl import prompt_pool

    return [row["prompt"] for row in prompt_pool(path, limit)]


def sample(
    model_or_dir: Any, convs: Sequence[Conversation], s: SamplingSettings
) -> list[list[str]]:
    """``s.n`` sampled replies per conversation (each sample round reseeded)."""
    model = load_model(str(model_or_dir)) if isinstance(model_or_dir, str | Path) else model_or_dir
    rounds = [
        model.generate(
            convs,
            GenerationConfig(
                max_new_tokens=s.max_new_tokens,
                temperature=s.temperature,
                batch_size=s.batch_size,
                seed=s.seed + k,
            ),
        )
        for k in range(s.n)
    ]
    return [[r[i] for r in rounds] for i in range(len(convs))]


# ── 1. the evaluator ────────────────────────────────────────────────────────


def fit_evaluator(
    constitution: Constitution, seed_file: Path | None, out: Path, s: CAISettings
) -> tuple[TrainedEvaluator, int]:
    """Train and save the evaluator on the constitution plus the first ``seed_size`` labels."""
    rows = load_comparisons(seed_file)[: s.seed_size] if seed_file and s.seed_size else []
    evaluator = train_evaluator(constitution, rows, s.evaluator)
    evaluator.save(out)
    return evaluator, len(rows)


def evaluator_in(
    folder: Path, constitution: Constitution, seed_file: Path | None, s: CAISettings
) -> TrainedEvaluator:
    """The evaluator saved in ``folder``, trained there first when it is not."""
    if (folder / "evaluator.json").is_file():
        return TrainedEvaluator.load(folder)
    return fit_evaluator(constitution, seed_file, folder, s)[0]


def relevant_principles(
    evaluator: TrainedEvaluator, convs: Sequence[Conversation], k: int
) -> list[tuple[str, ...]]:
    """The ``k`` principles the evaluator finds most relevant to each conversation."""
    if not convs:
        return []
    _, rel = evaluator.logits(convs, [""] * len(convs))
    top = rel.topk(min(k, rel.shape[1]), dim=-1).indices.tolist()
    return [tuple(evaluator.principles[j] for j in row) for row in top]


# ── 2. supervised CAI ───────────────────────────────────────────────────────


def supervised_cai(
    policy: str | Path,
    convs: Sequence[Conversation],
    evaluator: TrainedEvaluator,
    constitution: Constitution,
    out: Path,
    s: CAISettings,
) -> tuple[TrainResult, dict[str, Any]]:
    """Critique-revision with best-of-n under the evaluator, then SFT on the kept replies."""
    model = load_model(str(policy))
    greedy = SamplingSettings(**{**s.sampling.model_dump(), "n": 1, "temperature": 0.0})
    first = [c[0] for c in sample(model, convs, greedy)]
    extra = sample(model, convs, s.sampling)
    traces = critique_revise(
        model,
        constitution,
        convs,
        first,
        s.critique,
        principles=relevant_principles(evaluator, convs, s.critique_principles),
        scorer=evaluator.score,
        candidates=extra,
    )
    write_traces(out / "traces.jsonl", traces)
    n = write_sft(out / "sft.jsonl", traces)
    stats = revision_stats(traces)
    stats["demonstrations"] = n
    (out / "revision_stats.json").write_text(json.dumps(stats, indent=2))
    del model
    result = sft(policy, out / "sft.jsonl", out, s.sft)
    return result, stats


def revision_stats(traces: Sequence[Any]) -> dict[str, Any]:
    """Where the kept replies came from, and how often the model's own revisions won."""
    n = max(1, len(traces))
    steps = [st for t in traces for st in t.steps]
    return {
        "traces": len(traces),
        "kept_original": sum(t.chosen_from == "original" for t in traces) / n,
        "kept_revision": sum(t.chosen_from == "revision" for t in traces) / n,
        "kept_candidate": sum(t.chosen_from == "candidate" for t in traces) / n,
        "revision_steps": len(steps),
        "revision_accepted": sum(st.kept for st in steps) / max(1, len(steps)),
    }


# ── 3–4. RLAIF ──────────────────────────────────────────────────────────────


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


# ── 5. direct RLAIF ─────────────────────────────────────────────────────────


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


# ── the whole stage ─────────────────────────────────────────────────────────


def evaluator_agreement(
    evaluator: TrainedEvaluator,
    constitution: Constitution,
    rows: Sequence[Comparison],
    limit: int = 1000,
) -> dict[str, Any]:
    """The evaluator's agreement with held-out labelled comparisons, per principle."""
    from valign.cai.evaluator import pair_items
    from valign.feedback.agreement import agreement

    items, truth = pair_items(list(rows)[:limit], constitution, seed=1)
    return agreement(evaluator.compare(items), truth) if items else {}


def cai_stage(
    out: Path,
    policy: str | Path,
    seed_file: Path,
    prompt_file: Path,
    constitution: Constitution,
    s: CAISettings | None = None,
    supervised: bool = True,
    rlaif: bool = True,
) -> dict[str, Any]:
    """Evaluator → supervised CAI → RLAIF (``s.method``), each phase skipped when done.

    ``seed_file`` gives the evaluator's labelled seed (its first ``seed_size`` rows; the
    following rows measure its agreement); ``prompt_file`` the prompts (no replies or
    labels are read from it). Writes ``out/cai.json`` and returns it; ``model_dir`` is the
    final policy, ready for the scorecard.
    """
    s = s or CAISettings()
    out.mkdir(parents=True, exist_ok=True)
    evaluator = evaluator_in(out / "evaluator", constitution, seed_file, s)
    heldout = load_comparisons(seed_file)[s.seed_size :]
    record: dict[str, Any] = {
        "seed_size": s.seed_size,
        "agreement": evaluator_agreement(evaluator, constitution, heldout),
        "settings": s.model_dump(),
    }
    convs = prompts_from(prompt_file, 2 * s.prompts if s.prompts else 0)
    half = len(convs) // 2 if rlaif and supervised else len(convs)
    current = Path(policy)
    if supervised:
        folder = out / "supervised"
        if not (folder / "model" / "config.json").is_file():
            supervised_cai(current, convs[:half], evaluator, constitution, folder, s)
        record["revision"] = json.loads((folder / "revision_stats.json").read_text())
        current = folder / "model"
    if rlaif:
        phase = rlaif_phase(current, convs[-half:], evaluator, out / "rlaif", s)
        phase.pop("train", None)
        record["rlaif"] = phase
        current = Path(phase["model_dir"])
    record["model_dir"] = str(current)
    (out / "cai.json").write_text(json.dumps(record, indent=2, default=str))
    return record
