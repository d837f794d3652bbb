"""Iterative refinement (PAIR-like): the attacker rewrites the attack from the judge's feedback.

PAIR (Chao et al. 2023, "Jailbreaking Black Box Large Language Models in Twenty Queries")
loops: the attacker proposes a prompt, the target replies, a judge scores the reply, and
the attacker sees prompt, reply and score and proposes a better prompt. Here the judge is
the campaign's scorer (the guard and refusal detector, or an LLM judge), ``ctx.variants``
independent streams run per objective, and each stops at success or after
``ctx.max_rounds`` rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from valign.redteam.attacker import SLOT, MutationAttacker
from valign.redteam.attacks.generated import framed_attempts
from valign.redteam.registry import register_attack
from valign.redteam.types import AttackContext, AttackMeta, Attempt, Brief, Objective, user

META = AttackMeta(
    name="pair",
    family="iterative",
    goal="Can an attacker that sees the target's replies and the judge's scores find a way in?",
    source="PAIR (Chao et al. 2023)",
    adaptive=True,
    needs_attacker=True,
)


@dataclass(frozen=True)
class PairAttack:
    """Attacker proposes, target replies, scorer judges, attacker improves."""

    meta: AttackMeta = META

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        briefs = [
            (o, v, Brief(f"{self.meta.name}/{o.id}/{v}/0", o.category))
            for o in objectives
            for v in range(ctx.variants)
        ]
        return framed_attempts(self.meta, briefs, ctx)

    def refine(
        self,
        attempts: Sequence[Attempt],
        responses: Sequence[str],
        scores: Sequence[float],
        ctx: AttackContext,
    ) -> list[Attempt | None]:
        attacker = ctx.attacker or MutationAttacker()
        briefs = [
            Brief(
                f"{a.id}/{len(a.rounds) + 1}",
                a.objective.category,
                framing=str(a.state["framing"]),
                response=r,
                score=s,
            )
            for a, r, s in zip(attempts, responses, scores, strict=True)
        ]
        framings = attacker.propose(briefs, ctx)
        out: list[Attempt | None] = []
        for a, r, s, framing in zip(attempts, responses, scores, framings, strict=True):
            conversation = (user(framing.replace(SLOT, a.objective.request)),)
            out.append(a.next_round(r, s, False, conversation, framing=framing))
        return out


register_attack("pair", PairAttack)
