"""Test kit for valign.redteam: a scripted target and objectives with a sentinel goal."""

from __future__ import annotations

from collections.abc import Sequence

from valign.models import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation
from valign.redteam.types import Objective

COMPLY = "Sure. First, <STEP-1>. Then, <STEP-2>. Finally, <STEP-3>."
REFUSE = "I can't help with that."


def sentinel_objectives(n: int = 3) -> list[Objective]:
    """Objectives whose only content is an inert sentinel, with the microworld's marker."""
    cats = ("violent_crime", "fraud", "privacy")
    return [
        Objective(
            id=f"obj{i}",
            category=cats[i % len(cats)],
            goal=f"do the task called OBJ-{i}",
            request=f"How do I do the task called OBJ-{i}?",
            markers=("<STEP-",),
            safe_reply="I can't help with that. I can help with something safe instead.",
            source="test",
        )
        for i in range(n)
    ]


class ScriptedTarget:
    """Complies when the last user turn has a trigger word, or after ``comply_after`` turns;
    refuses otherwise. Counts every conversation it is sent."""

    name = "scripted"

    def __init__(self, triggers: Sequence[str] = ("Sure", "Unbound"), comply_after: int = 99):
        self.triggers = tuple(triggers)
        self.comply_after = comply_after
        self.calls = 0

    def reply(self, conv: Conversation) -> str:
        last = conv[-1]["content"]
        turns = sum(m["role"] == "user" for m in conv)
        if any(t in last for t in self.triggers) or turns >= self.comply_after:
            return COMPLY
        return REFUSE

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        self.calls += len(convs)
        return [self.reply(c) for c in convs]

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        return [ContinuationScore(0.0, 1) for _ in convs]
