"""Attackers: who writes the framings of generated and iteratively refined attacks.

An attacker writes a *framing*: a message with the literal slot ``{request}`` where the
objective goes. It never sees the objective itself (only its category), so neither a red-team
model nor the mutator can put harmful content of its own into an attack, and every attack
stays placeholder-only.

* :class:`ModelAttacker` prompts any chat model (a local folder, a hub id, an endpoint):
  zero-shot and few-shot generation as in Perez et al. 2022 ("Red Teaming Language Models
  with Language Models"), and improvement from the judge's feedback as in PAIR (Chao et al.
  2023, "Jailbreaking Black Box Large Language Models in Twenty Queries").
* :class:`MutationAttacker` is the built-in fallback when no red-team model is available
  (the microworld's base model cannot follow instructions): it recombines persona, rule and
  frame fragments and the few-shot examples, seeded. A search, not a language model.
"""

from __future__ import annotations

from collections.abc import Sequence

from valign.models.types import ChatModel
from valign.records.messages import Conversation
from valign.redteam.bundled import data_file
from valign.redteam.types import AttackContext, Attacker, Brief

SLOT = "{request}"


def ensure_slot(framing: str) -> str:
    """A framing without the slot gets the request after it; an empty one is the slot."""
    framing = framing.strip()
    if SLOT in framing:
        return framing
    return f"{framing}\n\n{SLOT}" if framing else SLOT


class MutationAttacker:
    """Seeded recombination of framing fragments and examples (no model needed)."""

    name = "mutate"

    def propose(self, briefs: Sequence[Brief], ctx: AttackContext) -> list[str]:
        parts = data_file("attacker.yaml")
        out = []
        for brief in briefs:
            rng = ctx.rng("mutate", brief.key)
            if brief.framing:  # improve: nest the framing in a new frame, add a rule
                base = rng.choice(parts["frames"]).replace(SLOT, brief.framing)
                text = f"{rng.choice(parts['personas'])} {base} {rng.choice(parts['rules'])}"
            elif brief.examples:  # few-shot: an example with a new persona or rule
                example = rng.choice(brief.examples)
                extra = rng.choice(parts["personas"] + parts["rules"])
                text = f"{extra} {example}" if rng.random() < 0.5 else f"{example} {extra}"
            else:  # zero-shot: persona + frame + rule
                frame = rng.choice(parts["frames"])
                text = f"{rng.choice(parts['personas'])} {frame} {rng.choice(parts['rules'])}"
            out.append(ensure_slot(text))
        return out


class ModelAttacker:
    """A red-team chat model prompted to write or improve framings (batched)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = f"model:{model.name}"

    def _prompt(self, brief: Brief) -> str:
        parts = data_file("attacker.yaml")
        if brief.framing:
            text = parts["improve"].format(
                framing=brief.framing,
                response=brief.response[:300],
                score=round(brief.score * 10),
                category=brief.category,
                request=SLOT,
            )
        elif brief.examples:
            examples = "\n".join(f"- {e}" for e in brief.examples)
            text = parts["few_shot"].format(
                examples=examples, category=brief.category, request=SLOT
            )
        else:
            text = parts["zero_shot"].format(category=brief.category, request=SLOT)
        return str(text)

    def propose(self, briefs: Sequence[Brief], ctx: AttackContext) -> list[str]:
        if not briefs:
            return []
        convs: list[Conversation] = [[{"role": "user", "content": self._prompt(b)}] for b in briefs]
        replies = self.model.generate(convs, ctx.generation)
        return [ensure_slot(r) for r in replies]


def make_attacker(spec: str | None) -> Attacker:
    """``None`` or ``mutate``: the built-in mutator; anything else: a model spec."""
    if spec is None or spec == "mutate":
        return MutationAttacker()
    from valign.models import load_model

    return ModelAttacker(load_model(spec))
