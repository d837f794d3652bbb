"""valign.feedback: comparisons, and the evaluator that judges replies against the constitution.

- :mod:`~valign.records.comparisons` the one comparison file format (human, AI, rule labels)
- :class:`LLMJudge`        pairwise verdicts from any chat model's choice-token probabilities
- :class:`TrainedEvaluator` an encoder + per-principle head trained on labelled examples
- :func:`agreement`        accuracy, Cohen's kappa and calibration against held-out labels
- :func:`critique_revise`  Constitutional AI's critique → revision loop
See ``docs/cai.md``.
"""

from importlib import import_module
from typing import Any

# Loaded on first use: the comparison format and the rating app must not pay for torch.
_WHERE = {
    "agreement": "agreement",
    "calibration": "agreement",
    "cohen_kappa": "agreement",
    "CritiqueSettings": "critique",
    "Trace": "critique",
    "critique_revise": "critique",
    "pick_best": "critique",
    "EvaluatorSettings": "evaluator",
    "TrainedEvaluator": "evaluator",
    "train_evaluator": "evaluator",
    "JudgeSettings": "judge",
    "LLMJudge": "judge",
    "PairItem": "judge",
    "Verdict": "judge",
    "position_bias": "judge",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'valign.feedback' has no attribute {name!r}")
    return getattr(import_module(f"valign.feedback.{_WHERE[name]}"), name)
