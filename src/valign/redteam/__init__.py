"""valign.redteam: automated adversarial campaigns that find failures, score them honestly,
and feed them back as preference pairs.

Attacks (one module per family under ``attacks/``) are plugins registered by name and open
to third-party packages through the entry-point group ``valign.attacks``; the campaign
runner batches every round across attacks and objectives, scores replies with the grader,
the guard, the refusal detector (and optionally an LLM judge), and resumes after a kill.
See ``docs/redteam.md``.

    from valign.redteam import CampaignConfig, run_campaign
    summary = run_campaign(CampaignConfig(model="runs/demo/pretrain/model"), Path("runs/rt"))
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.redteam.attacker import ModelAttacker, MutationAttacker, make_attacker
    from valign.redteam.campaign import CampaignConfig, run_campaign
    from valign.redteam.export import export_pairs, to_comparisons
    from valign.redteam.objectives import load_controls, load_objectives
    from valign.redteam.registry import (
        ENTRY_POINT_GROUP,
        get_attack,
        register_attack,
        registered_attacks,
        resolve_attacks,
    )
    from valign.redteam.scoring import DETECTORS, LLMJudge, Score, Scorer, detector_metrics
    from valign.redteam.summary import summarise
    from valign.redteam.types import (
        AdaptiveAttack,
        Attack,
        AttackContext,
        Attacker,
        AttackMeta,
        Attempt,
        Brief,
        Objective,
        Round,
    )

__all__ = [
    "DETECTORS",
    "ENTRY_POINT_GROUP",
    "AdaptiveAttack",
    "Attack",
    "AttackContext",
    "AttackMeta",
    "Attacker",
    "Attempt",
    "Brief",
    "CampaignConfig",
    "LLMJudge",
    "ModelAttacker",
    "MutationAttacker",
    "Objective",
    "Round",
    "Score",
    "Scorer",
    "detector_metrics",
    "export_pairs",
    "get_attack",
    "load_controls",
    "load_objectives",
    "make_attacker",
    "register_attack",
    "registered_attacks",
    "resolve_attacks",
    "run_campaign",
    "summarise",
    "to_comparisons",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "attacker": ["ModelAttacker", "MutationAttacker", "make_attacker"],
            "campaign": ["CampaignConfig", "run_campaign"],
            "export": ["export_pairs", "to_comparisons"],
            "objectives": ["load_controls", "load_objectives"],
            "registry": [
                "ENTRY_POINT_GROUP",
                "get_attack",
                "register_attack",
                "registered_attacks",
                "resolve_attacks",
            ],
            "scoring": ["DETECTORS", "LLMJudge", "Score", "Scorer", "detector_metrics"],
            "summary": ["summarise"],
            "types": [
                "AdaptiveAttack",
                "Attack",
                "AttackContext",
                "Attacker",
                "AttackMeta",
                "Attempt",
                "Brief",
                "Objective",
                "Round",
            ],
        },
    )
