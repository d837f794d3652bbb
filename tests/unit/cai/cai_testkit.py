"""Stand-in chat models for judge and critique tests: scripted log-probabilities and replies."""

from __future__ import annotations

import math
from collections.abc import Sequence

from valign.models import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation


class SlotBiasedModel:
    """Answers "(A)" with probability ``p_first`` whatever the question: pure position bias."""

    name = "slot-biased"

    def __init__(self, p_first: float = 0.8, reply: str = "some reasoning") -> None:
        self.p_first = p_first
        self.reply = reply
        self.scored: list[str] = []
        self.prompts: list[Conversation] = []
        self.scored_convs: list[Conversation] = []

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        self.prompts += list(convs)
        return [self.reply for _ in convs]

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        self.scored += list(continuations)
        self.scored_convs += list(convs)
        out = []
        for cont in continuations:
            p = self.p_first if cont.endswith("A") else 1 - self.p_first
            out.append(ContinuationScore(math.log(p) - 3.0, 4))  # a shared prefix cost
        return out


class ContentModel(SlotBiasedModel):
    """Prefers the option whose text contains ``good``, with a position bias on top."""

    def __init__(self, good: str, p_good: float = 0.9, p_first: float = 0.7) -> None:
        super().__init__(p_first)
        self.good = good
        self.p_good = p_good

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        out = []
        for conv, cont in zip(convs, continuations, strict=True):
            text = conv[-1]["content"]
            a_text = text.split("(A) ", 1)[1].split("\n(B) ", 1)[0]
            a_good = self.good in a_text
            p_a = self.p_good if a_good else 1 - self.p_good
            logit = math.log(p_a / (1 - p_a)) + math.log(self.p_first / (1 - self.p_first))
            p = 1 / (1 + math.exp(-logit))
            out.append(ContinuationScore(math.log(p if cont.endswith("A") else 1 - p), 1))
        return out
