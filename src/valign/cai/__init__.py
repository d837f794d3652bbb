"""valign.cai: Constitutional AI — AI feedback under the constitution, and training on it.

- :class:`LLMJudge`         pairwise verdicts from any chat model's choice-token probabilities
- :class:`TrainedEvaluator` an encoder + per-principle head trained on labelled examples
- :func:`seed_rubric`       which principles judge a comparison: the constitution's taxonomy
- :func:`critique_revise`   the critique → revision loop of supervised CAI
- :func:`rlaif_labels`      AI-labelled comparisons of the policy's own samples
- :func:`cai_stage`         evaluator → supervised CAI → RLAIF, each phase resumable
How far to trust a judge is :func:`valign.feedback.agreement.agreement`. See ``docs/cai.md``.
"""

from importlib import import_module
from typing import Any

# Loaded on first use: the judge's settings must not pay for torch and the trainers.
_WHERE = {
    "CritiqueSettings": "critique",
    "Trace": "critique",
    "critique_revise": "critique",
    "pick_best": "critique",
    "EvaluatorSettings": "evaluator",
    "TrainedEvaluator": "evaluator",
    "pair_items": "evaluator",
    "train_evaluator": "evaluator",
    "JudgeSettings": "judge",
    "LLMJudge": "judge",
    "PairItem": "judge",
    "Verdict": "judge",
    "position_bias": "judge",
    "principles_for": "rubric",
    "seed_rubric": "rubric",
    "SamplingSettings": "sampling",
    "CAISettings": "settings",
    "supervised_cai": "supervised",
    "direct_rlaif": "rlaif",
    "rlaif_dpo": "rlaif",
    "rlaif_labels": "rlaif",
    "cai_stage": "pipeline",
    "fit_evaluator": "pipeline",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'valign.cai' has no attribute {name!r}")
    return getattr(import_module(f"valign.cai.{_WHERE[name]}"), name)
