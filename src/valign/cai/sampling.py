"""The policy's own replies: prompts to answer and seeded samples of its answers.

Constitutional AI reads no replies and no labels from its prompt file: every reply it
critiques, revises, ranks or labels is sampled here from the policy being aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from valign.models import GenerationConfig, load_model
from valign.records.messages import Conversation


class SamplingSettings(BaseModel):
    """How the policy's candidate replies are sampled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int = Field(4, ge=1, description="Replies sampled per prompt.")
    temperature: float = Field(1.0, description="Sampling temperature.")
    max_new_tokens: int = Field(48, description="Longest reply in tokens.")
    batch_size: int = Field(64, description="Conversations per generation batch.")
    seed: int = Field(0, description="Seed of the first sample; sample k uses seed + k.")


def prompts_from(path: str | Path, limit: int = 0) -> list[Conversation]:
    """Conversations ending in a user turn, from a comparison, demonstration or prompt file,
    or a Hugging Face dataset id of them (:func:`valign.train.rl.prompt_pool`)."""
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
