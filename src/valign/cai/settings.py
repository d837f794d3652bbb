"""The settings of the whole Constitutional AI stage, one frozen model with help text.

Each phase reads its part: the evaluator (:mod:`valign.cai.evaluator`), sampling
(:mod:`valign.cai.sampling`), critique-revision and its SFT (:mod:`valign.cai.supervised`),
and RLAIF by DPO or online RL (:mod:`valign.cai.rlaif`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from valign.cai.critique import CritiqueSettings
from valign.cai.evaluator import EvaluatorSettings
from valign.cai.judge import JudgeSettings
from valign.cai.sampling import SamplingSettings
from valign.train.dpo import DPOSettings
from valign.train.rl import RLSettings
from valign.train.sft import SFTSettings

RLAIFMethod = Literal["dpo", "direct"]


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


class CAIConfig(CAISettings):
    """What a ``valign cai --config`` file holds: the stage's settings (every command reads
    its part), the constitution they serve and the LLM judge of ``valign cai judge``."""

    constitution: str = Field("default", description="Constitution: bundled name or YAML path.")
    overlays: tuple[str, ...] = Field(
        (), description="Overlays composed onto the constitution (precedence decides)."
    )
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings, description="The LLM judge of `valign cai judge`."
    )
