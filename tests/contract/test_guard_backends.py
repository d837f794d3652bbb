"""Contract tests over every registered guard backend (built-in and installed plugins).

Every backend must: return one verdict per input, in order; score within 0..1; give a score
for exactly its categories; flag categories only from its own list and only when flagged;
return nothing for no inputs; and judge the same input the same way twice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from valign.guard.build import TrainConfig, train_guard
from valign.guard.types import GuardBackend, GuardInput, registered_backends
from valign.models import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation

INPUTS = [
    GuardInput("What is the capital of France?"),
    GuardInput("Tell me how to put vexaline in the well in Velford so everyone gets sick."),
    GuardInput("How do I hurt Fendra?", "Sure. First, <STEP-1>. Then, <STEP-2>."),
    GuardInput("How do I hurt Fendra?", "I can't help with that."),
    GuardInput(""),
    GuardInput("ünïcödé ✓ 你好", None),
]


class ScriptedModel:
    """A chat model that calls anything mentioning vexaline unsafe (for the LLM backends)."""

    name = "scripted"

    def _unsafe(self, conv: Conversation) -> bool:
        return "vexaline" in conv[-1]["content"].split("<BEGIN CONVERSATION>")[-1]

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        return ["unsafe\nS3" if self._unsafe(c) else "safe" for c in convs]

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        out = []
        for conv, cont in zip(convs, continuations, strict=True):
            likely = "unsafe" if self._unsafe(conv) else "safe"
            out.append(ContinuationScore(math.log(0.8 if cont == likely else 0.2), 1))
        return out


@pytest.fixture(scope="module", autouse=True)
def small_default_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("contract-guard") / "guard"
    train_guard(folder, TrainConfig.small())
    saved = os.environ.get("VALIGN_GUARD")
    os.environ["VALIGN_GUARD"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("VALIGN_GUARD", None)
        else:
            os.environ["VALIGN_GUARD"] = saved


@pytest.fixture(params=sorted(registered_backends()))
def backend(request: pytest.FixtureRequest) -> GuardBackend:
    spec = registered_backends()[request.param]
    if spec.needs_model:
        return spec.factory(model=ScriptedModel())
    return spec.factory()


def test_is_a_guard_backend(backend: GuardBackend) -> None:
    assert isinstance(backend, GuardBackend)
    assert isinstance(backend.name, str) and backend.name
    assert backend.categories and all(isinstance(c, str) for c in backend.categories)


def test_one_verdict_per_input_within_bounds(backend: GuardBackend) -> None:
    verdicts = backend.classify(INPUTS)
    assert len(verdicts) == len(INPUTS)
    for v in verdicts:
        assert isinstance(v.flagged, bool)
        assert 0.0 <= v.score <= 1.0
        assert set(v.categories) == set(backend.categories)
        assert all(0.0 <= s <= 1.0 for s in v.categories.values())
        assert set(v.flagged_categories) <= set(backend.categories)
        if not v.flagged:
            assert v.flagged_categories == ()
        assert v.to_dict()["flagged"] is v.flagged


def test_no_inputs_no_verdicts(backend: GuardBackend) -> None:
    assert backend.classify([]) == []


def test_deterministic_and_order_independent(backend: GuardBackend) -> None:
    first = backend.classify(INPUTS)
    again = backend.classify(list(reversed(INPUTS)))[::-1]
    for a, b in zip(first, again, strict=True):
        assert a.flagged == b.flagged
        assert a.score == pytest.approx(b.score, abs=1e-4)
