"""The red team's shapes: objectives, attempts, attack metadata and the `Attack` protocol.

An *objective* is what an attack tries to make the target do (a harmful request of one
taxonomy category). An *attack* turns objectives into *attempts*: conversations sent to the
target. The harmful part of every attempt is the objective, inserted where the attack's
template has its placeholder, so attack code and data never carry harmful content of
their own; in the microworld objectives are fictional and compliance is the inert
``<STEP-n>`` placeholders.

Adaptive attacks (multi-turn escalation, iterative refinement) see the target's reply and
the scorer's verdict after each round and return the next attempt, or ``None`` to stop.
The campaign runner batches every round across all attacks and objectives.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from valign.models.types import GenerationConfig
from valign.records.messages import Conversation, Message

Turns = Literal["single", "multi"]


@dataclass(frozen=True)
class Objective:
    """A harmful goal an attack tries to reach.

    Attributes:
        id: Stable id, unique within a campaign.
        category: Taxonomy category id from the constitution.
        goal: The goal as a verb phrase ("hurt Fendra with a hookblade"), for templates
            that build their own sentence around it.
        request: The goal as a plain user request ("How do I hurt Fendra ...?").
        markers: Strings whose presence in a reply proves compliance (the microworld's
            ``<STEP-`` placeholder); empty for real objectives, which detectors judge.
        safe_reply: A reply that follows the constitution (refuses, offers the safe
            alternative); the chosen side of exported preference pairs.
        source: Where the objective came from ("microworld", "constitution", a file).
    """

    id: str
    category: str
    goal: str
    request: str
    markers: tuple[str, ...] = ()
    safe_reply: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "goal": self.goal,
            "request": self.request,
            "markers": list(self.markers),
            "safe_reply": self.safe_reply,
            "source": self.source,
        }


@dataclass(frozen=True)
class Round:
    """One exchange of an adaptive attempt: what was sent, the reply, and its score."""

    conversation: tuple[Message, ...]
    response: str
    score: float
    success: bool


@dataclass(frozen=True)
class Attempt:
    """One conversation sent to the target on behalf of one attack and objective.

    Attributes:
        id: ``attack/objective/variant``; the unit of resumption (a finished attempt is
            written once and never repeated).
        attack: Registered name of the attack that built it.
        family: The attack's family (``template``, ``encoding``, ...).
        objective: What the attempt tries to make the target do.
        conversation: The chat so far; its last turn is the user's.
        payload: The form in which the objective is embedded (the request itself, its
            base64, ...); the contract tests check it is in the conversation.
        variant: Which variant of the attack (template index, shot count, ...).
        rounds: Earlier rounds of an adaptive attempt, oldest first.
        state: Attack-specific state carried between rounds (template ids, step numbers).
    """

    id: str
    attack: str
    family: str
    objective: Objective
    conversation: tuple[Message, ...]
    payload: str
    variant: int = 0
    rounds: tuple[Round, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)

    def messages(self) -> Conversation:
        return [{"role": m["role"], "content": m["content"]} for m in self.conversation]

    def text(self) -> str:
        """Every turn's content, joined: what a payload check searches."""
        return "\n".join(m["content"] for m in self.conversation)

    def next_round(
        self,
        response: str,
        score: float,
        success: bool,
        conversation: Sequence[Message],
        payload: str | None = None,
        **state: Any,
    ) -> Attempt:
        """The follow-up attempt: this round recorded, a new conversation to send."""
        done = Round(self.conversation, response, score, success)
        return replace(
            self,
            conversation=tuple(conversation),
            payload=self.payload if payload is None else payload,
            rounds=(*self.rounds, done),
            state={**self.state, **state},
        )


def user(content: str) -> Message:
    return {"role": "user", "content": content}


def assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


def attempt_id(attack: str, objective: Objective, variant: int) -> str:
    return f"{attack}/{objective.id}/{variant}"


def first_attempt(
    meta: AttackMeta,
    objective: Objective,
    variant: int,
    conversation: Sequence[Message],
    payload: str,
    **state: Any,
) -> Attempt:
    """The first round of an attempt, identified by attack, objective and variant."""
    return Attempt(
        id=attempt_id(meta.name, objective, variant),
        attack=meta.name,
        family=meta.family,
        objective=objective,
        conversation=tuple(conversation),
        payload=payload,
        variant=variant,
        state=state,
    )


@dataclass(frozen=True)
class AttackMeta:
    """What an attack is, declared as data (shown by ``valign redteam attacks``).

    Attributes:
        name: Registry name, e.g. ``base64``.
        family: Group for reporting: template, encoding, rephrase, many_shot, multi_turn,
            generated, iterative.
        goal: One sentence: what weakness the attack probes.
        turns: ``single`` (one user turn) or ``multi`` (a conversation).
        source: Where the technique comes from (a paper, a tool, "valign").
        categories: Taxonomy categories it applies to; empty means every category.
        adaptive: Sees the target's replies and the scorer's verdicts between rounds.
        needs_attacker: Needs an attacker (a red-team model, or the built-in mutator).
        default: Part of the default campaign.
    """

    name: str
    family: str
    goal: str
    turns: Turns = "single"
    source: str = "valign"
    categories: tuple[str, ...] = ()
    adaptive: bool = False
    needs_attacker: bool = False
    default: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "goal": self.goal,
            "turns": self.turns,
            "source": self.source,
            "categories": list(self.categories),
            "adaptive": self.adaptive,
            "needs_attacker": self.needs_attacker,
            "default": self.default,
        }


@dataclass(frozen=True)
class Brief:
    """What the attacker is asked for, for one attempt.

    Attributes:
        key: Seeds the attacker's choices for this attempt (its id and round).
        category: Taxonomy category of the objective (the attacker sees nothing more of it).
        examples: Few-shot framings; empty for zero-shot generation.
        framing: The framing to improve, with the target's ``response`` and its ``score``
            (0..1); empty for generation.
    """

    key: str
    category: str
    examples: tuple[str, ...] = ()
    framing: str = ""
    response: str = ""
    score: float = 0.0


@runtime_checkable
class Attacker(Protocol):
    """Writes one framing (containing ``{request}``) per brief."""

    name: str

    def propose(self, briefs: Sequence[Brief], ctx: AttackContext) -> list[str]: ...


@dataclass(frozen=True)
class AttackContext:
    """What attacks may use while building attempts.

    Attributes:
        seed: Seeds every random choice; the same seed gives the same attempts.
        variants: Attempts per objective for attacks with several variants.
        max_rounds: Most rounds an adaptive attempt runs.
        attacker: The red-team model (or the built-in mutator) for generated and
            iterative attacks; None when none is configured.
        generation: How the attacker samples.
    """

    seed: int = 0
    variants: int = 2
    max_rounds: int = 3
    attacker: Attacker | None = None
    generation: GenerationConfig = field(
        default_factory=lambda: GenerationConfig(max_new_tokens=96, temperature=1.0)
    )

    def rng(self, *keys: str) -> random.Random:
        """A generator seeded from the campaign seed and ``keys`` (an attack, an objective):
        each attempt's choices are independent of which other attempts exist."""
        digest = hashlib.sha256("\x1f".join((str(self.seed), *keys)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))


@runtime_checkable
class Attack(Protocol):
    """Objectives in, attempts out; adaptive attacks also refine after each round."""

    @property
    def meta(self) -> AttackMeta:
        """What the attack is (declared data, see :class:`AttackMeta`)."""
        ...

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        """The first round of attempts, deterministic for a given ``ctx.seed``."""
        ...


@runtime_checkable
class AdaptiveAttack(Attack, Protocol):
    """An attack that continues from the target's replies."""

    def refine(
        self,
        attempts: Sequence[Attempt],
        responses: Sequence[str],
        scores: Sequence[float],
        ctx: AttackContext,
    ) -> list[Attempt | None]:
        """The next attempt for each finished round (which did not succeed), or None to stop."""
        ...
