"""The LLM judge: a pairwise preference from any chat model, read from choice-token probabilities.

Constitutional AI's feedback model is shown a conversation, one principle and two replies
labelled (A) and (B), and asked which is better. The verdict is not parsed from free text:
the judge scores the two possible answers ``(A)`` and ``(B)`` as continuations of its reply
and normalises their probabilities, so every comparison yields a soft label
``P(first reply better)`` even from a model too weak to follow the format. That works for
a local Hugging Face model and for an OpenAI-compatible endpoint alike, through
:meth:`ChatModel.continuation_logprobs`.

Language models prefer one position over the other. With ``order_averaging`` each pair is
judged twice, once in each order, and the two probabilities that reply ``a`` is better are
averaged; the share of pairs whose verdict flips with the order is kept as the measured
position bias. With ``chain_of_thought`` the judge first writes its reasoning (greedy) and
the choice is scored after it. A principle is drawn per comparison (seeded by its id) from
the candidates the caller allows, as in the Constitutional AI paper, so the labels of a
large set reflect the whole constitution rather than one principle.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from valign.models import ChatModel, GenerationConfig
from valign.records.messages import Conversation
from valign.values import Constitution, Principle

CHOICES = ("A", "B")


class JudgeSettings(BaseModel):
    """How the LLM judge compares two replies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_averaging: bool = Field(
        True, description="Judge each pair in both orders and average (cancels position bias)."
    )
    chain_of_thought: bool = Field(
        False, description="Let the judge reason before the choice is scored."
    )
    cot_max_tokens: int = Field(128, description="Longest reasoning, in tokens.")
    few_shot: int = Field(
        1, description="Labelled pairs from the constitution shown before the question (0: none)."
    )
    seed: int = Field(0, description="Seeds the principle drawn for each comparison.")
    batch_size: int = Field(16, description="Conversations per generation batch (reasoning).")


@dataclass(frozen=True)
class PairItem:
    """One comparison to judge: the conversation so far and two candidate replies.

    ``principles`` are the ids the judge may draw from (empty: any principle of the
    constitution); ``id`` seeds the draw so that a rerun picks the same principle.
    """

    conversation: Conversation
    a: str
    b: str
    id: str = ""
    principles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The judge's view of one pair.

    Attributes:
        p_a: Probability that reply ``a`` is better (the soft label; averaged over orders).
        principle: The principle the pair was judged under.
        p_a_first: P(a better) with ``a`` shown as (A).
        p_a_second: P(a better) with ``a`` shown as (B); equal to ``p_a_first`` when order
            averaging is off.
        reasoning: The judge's reasoning, when chain of thought is on (first order).
    """

    p_a: float
    principle: str
    p_a_first: float
    p_a_second: float
    reasoning: str = ""

    @property
    def flipped(self) -> bool:
        """The preferred reply changes when the order is swapped (position bias)."""
        return (self.p_a_first > 0.5) != (self.p_a_second > 0.5)


@dataclass
class PositionBias:
    """How much the judge's choice depends on where a reply is shown."""

    pairs: int
    flip_rate: float  # share of pairs whose verdict changes with the order
    first_slot: float  # mean P(choose the reply shown first) over both orders; 0.5 = none
    notes: list[str] = field(default_factory=list)


def seeded_principle(constitution: Constitution, allowed: Sequence[str], key: str) -> Principle:
    """A principle drawn among ``allowed`` (empty: any), the same every time for ``key``."""
    ids = list(allowed) or constitution.principle_ids
    rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))
    return constitution.principle(rng.choice(ids))


def draw_principle(constitution: Constitution, item: PairItem, seed: int = 0) -> Principle:
    """The principle for one comparison: a seeded draw among the allowed candidates."""
    return seeded_principle(constitution, item.principles, f"{seed}:{item.id or item.a + item.b}")


def render(conversation: Conversation, sep: str = "\n\n") -> str:
    """A conversation as plain text with Human/Assistant names (for judges and encoders)."""
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return sep.join(f"{names.get(m['role'], m['role'])}: {m['content']}" for m in conversation)


def question(principle: Principle, conversation: Conversation, first: str, second: str) -> str:
    """The judge's multiple-choice question (Constitutional AI's feedback prompt)."""
    return (
        "Consider the following conversation between a human and an assistant:\n\n"
        f"{render(conversation)}\n\n"
        f"Principle: {principle.text}\n"
        "Which of these assistant responses follows the principle better?\n"
        f"Options:\n(A) {first}\n(B) {second}"
    )


def _few_shot(principle: Principle, n: int) -> list[dict[str, str]]:
    """Up to ``n`` solved questions from the principle's own labelled examples."""
    turns: list[dict[str, str]] = []
    by_prompt: dict[str, dict[str, str]] = {}
    for ex in principle.examples:
        by_prompt.setdefault(ex.prompt, {}).setdefault(ex.verdict, ex.response)
    solved = [(p, v) for p, v in by_prompt.items() if {"follows", "violates"} <= v.keys()]
    for k, (prompt, verdicts) in enumerate(solved[:n]):
        conv: Conversation = [{"role": "user", "content": prompt}]
        good, bad = verdicts["follows"], verdicts["violates"]
        first, second, answer = (good, bad, "A") if k % 2 == 0 else (bad, good, "B")
        turns.append({"role": "user", "content": question(principle, conv, first, second)})
        turns.append({"role": "assistant", "content": f"The answer is: ({answer})"})
    return turns


def _p_first(logprob_a: float, logprob_b: float) -> float:
    """P(A) from the two choices' log-probabilities, normalised over the two."""
    top = max(logprob_a, logprob_b)
    ea, eb = math.exp(logprob_a - top), math.exp(logprob_b - top)
    return ea / (ea + eb)


class LLMJudge:
    """Pairwise judge over any :class:`~valign.models.ChatModel`.

    Args:
        model: The judge model (local, hub or endpoint).
        constitution: Its principles are the rubric.
        settings: Order averaging, reasoning, few-shot, seed.
    """

    def __init__(
        self,
        model: ChatModel,
        constitution: Constitution,
        settings: JudgeSettings | None = None,
    ) -> None:
        self.model = model
        self.constitution = constitution
        self.settings = settings or JudgeSettings()
        self.name = f"llm:{model.name}"

    def _prompts(self, items: Sequence[PairItem], swap: bool) -> list[Conversation]:
        convs: list[Conversation] = []
        for item in items:
            principle = draw_principle(self.constitution, item, self.settings.seed)
            first, second = (item.b, item.a) if swap else (item.a, item.b)
            shots = _few_shot(principle, self.settings.few_shot)
            ask = question(principle, item.conversation, first, second)
            if self.settings.chain_of_thought:
                ask += "\nLet's think step by step."
            convs.append([*shots, {"role": "user", "content": ask}])  # type: ignore[list-item]
        return convs

    def _reasoning(self, convs: list[Conversation]) -> list[str]:
        if not self.settings.chain_of_thought:
            return [""] * len(convs)
        config = GenerationConfig(
            max_new_tokens=self.settings.cot_max_tokens,
            temperature=0.0,
            batch_size=self.settings.batch_size,
            stop=("The answer is",),
        )
        return [r.strip() for r in self.model.generate(convs, config)]

    def _p_first_slot(self, convs: list[Conversation], reasons: list[str]) -> list[float]:
        """P(the judge answers (A)) for each prompt."""
        prefixes = [(f"{r}\n" if r else "") + "The answer is: (" for r in reasons]
        doubled = [c for c in convs for _ in CHOICES]
        conts = [p + choice for p in prefixes for choice in CHOICES]
        scores = self.model.continuation_logprobs(doubled, conts)
        return [
            _p_first(scores[2 * i].logprob, scores[2 * i + 1].logprob) for i in range(len(convs))
        ]

    def compare(self, items: Sequence[PairItem]) -> list[Verdict]:
        """A verdict per pair, in input order."""
        if not items:
            return []
        forward = self._prompts(items, swap=False)
        reasons = self._reasoning(forward)
        p_first = self._p_first_slot(forward, reasons)
        if self.settings.order_averaging:
            backward = self._prompts(items, swap=True)
            p_second = [1.0 - p for p in self._p_first_slot(backward, self._reasoning(backward))]
        else:
            p_second = list(p_first)
        verdicts = []
        for item, pf, ps, why in zip(items, p_first, p_second, reasons, strict=True):
            principle = draw_principle(self.constitution, item, self.settings.seed)
            verdicts.append(Verdict((pf + ps) / 2, principle.id, pf, ps, why))
        return verdicts


def position_bias(verdicts: Sequence[Verdict]) -> PositionBias:
    """Flip rate and first-slot preference of verdicts judged in both orders."""
    n = len(verdicts)
    if not n:
        return PositionBias(0, 0.0, 0.5)
    flips = sum(v.flipped for v in verdicts) / n
    # In the first order the first slot holds a; in the second it holds b.
    first = sum(v.p_a_first + (1.0 - v.p_a_second) for v in verdicts) / (2 * n)
    return PositionBias(n, flips, first)
