"""The cascade: confident cases stay with the fast guard, the uncertain band escalates."""

from __future__ import annotations

from pathlib import Path

import pytest
from guard_testkit import FakeBackend, FakeChatModel

from valign.guard.cascade import CascadeGuard, cascade_backend
from valign.guard.llm import LLMGuard
from valign.guard.types import GuardInput


def test_only_the_uncertain_band_escalates() -> None:
    fast = FakeBackend("fast", {"clear-bad": 0.97, "unsure": 0.5, "edge": 0.2, "clear-ok": 0.01})
    slow = FakeBackend("slow", {"unsure": 0.95, "edge": 0.0})
    cascade = CascadeGuard(fast, slow, low=0.2, high=0.9)
    inputs = [GuardInput(p) for p in ("clear-bad", "unsure", "edge", "clear-ok")]
    bad, unsure, edge, ok = cascade.classify(inputs)
    assert [i.prompt for i in slow.calls[0]] == ["unsure", "edge"]
    assert bad.flagged and bad.detail == {"escalated": False, "by": "fast"}
    assert unsure.flagged and unsure.score == 0.95
    assert unsure.detail["escalated"] and unsure.detail["fast_score"] == 0.5
    assert unsure.detail["by"] == "slow" and unsure.backend == "cascade"
    assert not edge.flagged and edge.detail["escalated"]
    assert not ok.flagged and not ok.detail["escalated"]


def test_nothing_to_escalate_never_calls_the_slow_guard() -> None:
    slow = FakeBackend("slow", {})
    cascade = CascadeGuard(FakeBackend("fast", {"x": 0.99}), slow)
    assert cascade.classify([GuardInput("x"), GuardInput("y")])[0].flagged
    assert slow.calls == []
    assert cascade.classify([]) == []


def test_band_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        CascadeGuard(FakeBackend("a", {}), FakeBackend("b", {}), low=0.8, high=0.2)


def test_factory_puts_the_default_guard_before_the_llm(guard_dir: Path) -> None:
    model = FakeChatModel(reply=lambda p: "safe", logprob=lambda p, k: -1.0)
    cascade = cascade_backend(model, low=0.0, high=1.0)
    assert isinstance(cascade.slow, LLMGuard)
    verdict = cascade.classify([GuardInput("What is 2 plus 2?")])[0]
    assert verdict.detail["escalated"] and verdict.detail["by"] == "llm"
    assert set(verdict.categories) == set(cascade.categories)
