"""Supervised Constitutional AI: the policy critiques and revises its answers, then learns them.

The policy answers each prompt (greedy), critiques and revises its answer under the
principles the evaluator finds most relevant (:func:`valign.cai.critique.critique_revise`),
and the evaluator keeps the best of the original, the revisions and extra samples —
best-of-n under the evaluator, which is what makes the loop useful with a model too small
to revise. SFT on the kept answers gives the next policy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from valign.cai.critique import critique_revise, write_sft, write_traces
from valign.cai.evaluator import TrainedEvaluator
from valign.cai.sampling import SamplingSettings, sample
from valign.cai.settings import CAISettings
from valign.models import load_model
from valign.records.messages import Conversation
from valign.train.common import TrainResult
from valign.train.sft import sft
from valign.values import Constitution


def relevant_principles(
    evaluator: TrainedEvaluator, convs: Sequence[Conversation], k: int
) -> list[tuple[str, ...]]:
    """The ``k`` principles the evaluator finds most relevant to each conversation."""
    if not convs:
        return []
    _, rel = evaluator.logits(convs, [""] * len(convs))
    top = rel.topk(min(k, rel.shape[1]), dim=-1).indices.tolist()
    return [tuple(evaluator.principles[j] for j in row) for row in top]


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
