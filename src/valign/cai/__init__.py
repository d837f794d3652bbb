"""valign.cai: Constitutional AI — AI feedback under the constitution, and training on it.

- :class:`LLMJudge`         pairwise verdicts from any chat model's choice-token probabilities
- :class:`TrainedEvaluator` an encoder + per-principle head trained on labelled examples
- :func:`seed_rubric`       which principles judge a comparison: the constitution's taxonomy
- :func:`critique_revise`   the critique → revision loop of supervised CAI
- :func:`rlaif_labels`      AI-labelled comparisons of the policy's own samples
- :func:`cai_stage`         evaluator → supervised CAI → RLAIF, each phase resumable
How far to trust a judge is :func:`valign.feedback.agreement.agreement`. See ``docs/cai.md``.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.cai.critique import CritiqueSettings, Trace, critique_revise, pick_best
    from valign.cai.evaluator import (
        EvaluatorSettings,
        TrainedEvaluator,
        pair_items,
        train_evaluator,
    )
    from valign.cai.judge import JudgeSettings, LLMJudge, PairItem, Verdict, position_bias
    from valign.cai.pipeline import cai_stage, fit_evaluator
    from valign.cai.rlaif import direct_rlaif, rlaif_dpo, rlaif_labels
    from valign.cai.rubric import principles_for, seed_rubric
    from valign.cai.sampling import SamplingSettings
    from valign.cai.settings import CAISettings
    from valign.cai.supervised import supervised_cai

__all__ = [
    "CAISettings",
    "CritiqueSettings",
    "EvaluatorSettings",
    "JudgeSettings",
    "LLMJudge",
    "PairItem",
    "SamplingSettings",
    "Trace",
    "TrainedEvaluator",
    "Verdict",
    "cai_stage",
    "critique_revise",
    "direct_rlaif",
    "fit_evaluator",
    "pair_items",
    "pick_best",
    "position_bias",
    "principles_for",
    "rlaif_dpo",
    "rlaif_labels",
    "seed_rubric",
    "supervised_cai",
    "train_evaluator",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "critique": ["CritiqueSettings", "Trace", "critique_revise", "pick_best"],
            "evaluator": ["EvaluatorSettings", "TrainedEvaluator", "pair_items", "train_evaluator"],
            "judge": ["JudgeSettings", "LLMJudge", "PairItem", "Verdict", "position_bias"],
            "pipeline": ["cai_stage", "fit_evaluator"],
            "rlaif": ["direct_rlaif", "rlaif_dpo", "rlaif_labels"],
            "rubric": ["principles_for", "seed_rubric"],
            "sampling": ["SamplingSettings"],
            "settings": ["CAISettings"],
            "supervised": ["supervised_cai"],
        },
    )
