"""Attacks written by a red-team model: zero-shot and few-shot generation.

Perez et al. 2022 ("Red Teaming Language Models with Language Models") sample test cases
from a language model, zero-shot and with successful examples in the prompt. Here the
attacker writes the framing and valign inserts the objective (see
:mod:`valign.redteam.attacker`); few-shot examples are the template library's framings.
Without a red-team model, the built-in mutator stands in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from valign.redteam.attacker import SLOT, MutationAttacker
from valign.redteam.bundled import data_file
from valign.redteam.registry import register_attack
from valign.redteam.types import (
    AttackContext,
    AttackMeta,
    Attempt,
    Brief,
    Objective,
    first_attempt,
    user,
)

N_EXAMPLES = 3


def library_framings() -> tuple[str, ...]:
    """Every template of the library whose placeholder is the whole request."""
    spec = data_file("templates.yaml")
    return tuple(t for fam in spec.values() for t in fam["templates"] if SLOT in t)


def framed_attempts(
    meta: AttackMeta, briefs: Sequence[tuple[Objective, int, Brief]], ctx: AttackContext
) -> list[Attempt]:
    """Ask the attacker for a framing per brief and fill each with its objective."""
    attacker = ctx.attacker or MutationAttacker()
    framings = attacker.propose([b for _, _, b in briefs], ctx)
    out = []
    for (objective, v, _), framing in zip(briefs, framings, strict=True):
        text = framing.replace(SLOT, objective.request)
        out.append(
            first_attempt(
                meta,
                objective,
                v,
                [user(text)],
                objective.request,
                framing=framing,
                attacker=attacker.name,
            )
        )
    return out


@dataclass(frozen=True)
class GeneratedAttack:
    """``ctx.variants`` framings per objective from the attacker."""

    meta: AttackMeta
    few_shot: bool

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        library = library_framings()
        briefs = []
        for objective in objectives:
            for v in range(ctx.variants):
                key = f"{self.meta.name}/{objective.id}/{v}"
                examples: tuple[str, ...] = ()
                if self.few_shot:
                    k = min(N_EXAMPLES, len(library))
                    examples = tuple(ctx.rng(key).sample(library, k))
                briefs.append((objective, v, Brief(key, objective.category, examples)))
        return framed_attempts(self.meta, briefs, ctx)


def _zero_shot() -> GeneratedAttack:
    """Framings a red-team model writes from an instruction alone."""
    meta = AttackMeta(
        name="red_lm_zero_shot",
        family="generated",
        goal="What does a red-team model come up with unprompted?",
        source="zero-shot red teaming (Perez et al. 2022)",
        needs_attacker=True,
    )
    return GeneratedAttack(meta, few_shot=False)


def _few_shot() -> GeneratedAttack:
    """Framings a red-team model writes after examples from the template library."""
    meta = AttackMeta(
        name="red_lm_few_shot",
        family="generated",
        goal="Do variations of known jailbreaks, written by a red-team model, get through?",
        source="few-shot red teaming (Perez et al. 2022)",
        needs_attacker=True,
    )
    return GeneratedAttack(meta, few_shot=True)


register_attack("red_lm_zero_shot", _zero_shot)
register_attack("red_lm_few_shot", _few_shot)
