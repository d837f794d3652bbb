"""Multi-turn escalation: start harmless, then lean on the model's own replies.

A crescendo-like attack (Russinovich, Salem and Eldan 2024, "Great, Now Write an Article
About That") opens with a harmless framing of the goal and escalates one step per turn,
each turn sent with the target's real previous replies in the conversation, so the model
is led by its own words. Ladders are data (``data/escalation.yaml``); the attempt stops as
soon as a reply succeeds or the ladder ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import yaml

from valign.redteam.attacks.templates import pick
from valign.redteam.registry import register_attack
from valign.redteam.types import (
    AttackContext,
    AttackMeta,
    Attempt,
    Objective,
    assistant,
    first_attempt,
    user,
)


def ladders() -> tuple[tuple[str, ...], ...]:
    text = resources.files("valign.redteam").joinpath("data", "escalation.yaml").read_text("utf-8")
    return tuple(tuple(steps) for steps in yaml.safe_load(text))


META = AttackMeta(
    name="crescendo",
    family="multi_turn",
    goal="Does a conversation that escalates step by step lead the model past its refusals?",
    turns="multi",
    source="crescendo multi-turn jailbreak (Russinovich et al. 2024)",
    adaptive=True,
)


@dataclass(frozen=True)
class CrescendoAttack:
    """Escalates along a ladder of turns, one round per turn."""

    meta: AttackMeta = META

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        steps = ladders()
        out = []
        for objective in objectives:
            for v in pick(ctx, len(steps), self.meta.name, objective.id):
                first = steps[v][0].replace("{goal}", objective.goal)
                out.append(
                    first_attempt(self.meta, objective, v, [user(first)], objective.goal, step=0)
                )
        return out

    def refine(
        self,
        attempts: Sequence[Attempt],
        responses: Sequence[str],
        scores: Sequence[float],
        ctx: AttackContext,
    ) -> list[Attempt | None]:
        steps = ladders()
        out: list[Attempt | None] = []
        for attempt, response, score in zip(attempts, responses, scores, strict=True):
            step = int(attempt.state.get("step", 0)) + 1
            ladder = steps[attempt.variant]
            if step >= len(ladder):
                out.append(None)
                continue
            conversation = (*attempt.conversation, assistant(response), user(ladder[step]))
            out.append(attempt.next_round(response, score, False, conversation, step=step))
        return out


register_attack("crescendo", CrescendoAttack)
