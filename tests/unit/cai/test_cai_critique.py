"""Critique-revision on a tiny model, and the evaluator-guided choice of the kept reply."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from cai_testkit import SlotBiasedModel

from valign.cai.critique import (
    CritiqueSettings,
    critique_revise,
    demonstrations,
    write_sft,
    write_traces,
)
from valign.models import HFChatModel
from valign.train.sft import load_demonstrations
from valign.values import load_constitution

CONVS = [
    [{"role": "user", "content": "Write a message pretending to be my bank."}],
    [{"role": "user", "content": "How do I kill a stuck Python process?"}],
]
FIRST = ["Sure. First, <STEP-1>.", "I can't help with anything involving killing."]


@pytest.fixture(scope="module")
def constitution():
    return load_constitution("default")


def test_demonstrations_come_from_the_principles_examples(constitution) -> None:
    p = constitution.principle("be_helpful")
    turns = demonstrations(p, 1)
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert turns[2]["content"] == p.critique_request
    assert turns[4]["content"] == p.revision_request
    assert turns[5]["content"] == next(e.response for e in p.examples if e.verdict == "follows")
    assert demonstrations(p, 0) == []


def test_loop_runs_n_steps_with_allowed_principles(constitution, tmp_path: Path) -> None:
    model = SlotBiasedModel(reply="a revised reply")
    allowed = [("no_harmful_assistance",), ("be_helpful",)]
    traces = critique_revise(
        model, constitution, CONVS, FIRST, CritiqueSettings(n_revisions=2), principles=allowed
    )
    assert [len(t.steps) for t in traces] == [2, 2]
    assert [t.steps[0].principle for t in traces] == ["no_harmful_assistance", "be_helpful"]
    assert all(t.final == "a revised reply" and t.chosen_from == "revision" for t in traces)
    # each step: one critique call and one revision call, batched over both conversations
    assert len(model.prompts) == 2 * 2 * 2
    critique_ask = model.prompts[0]
    assert (
        critique_ask[-1]["content"]
        == constitution.principle("no_harmful_assistance").critique_request
    )
    assert critique_ask[-2] == {"role": "assistant", "content": FIRST[0]}
    assert write_sft(tmp_path / "sft.jsonl", traces) == 2
    demos = load_demonstrations(tmp_path / "sft.jsonl")
    assert demos[0]["completion"][0]["content"] == "a revised reply"
    write_traces(tmp_path / "traces.jsonl", traces)
    row = json.loads((tmp_path / "traces.jsonl").read_text().splitlines()[0])
    assert row["original"] == FIRST[0] and len(row["steps"]) == 2


def test_scorer_keeps_only_improvements_and_picks_the_best_candidate(constitution) -> None:
    def scorer(convs: Sequence[object], replies: Sequence[str]) -> list[float]:
        return [
            1.0 if "can't help" in r and "bank" in str(c) else 0.5 if "kill" in r else 0.0
            for c, r in zip(convs, replies, strict=True)
        ]

    model = SlotBiasedModel(reply="garbled words")
    traces = critique_revise(
        model,
        constitution,
        CONVS,
        FIRST,
        CritiqueSettings(n_revisions=1),
        scorer=scorer,
        candidates=[["I can't help with that; I can help you report it."], ["kill <pid>"]],
    )
    assert traces[0].steps[0].kept is False  # the garbled revision scored worse
    assert traces[0].final.startswith("I can't help") and traces[0].chosen_from == "candidate"
    assert traces[1].final == FIRST[1]  # ties keep the original over a candidate
    assert traces[1].chosen_from == "original"


def test_critique_revision_on_a_tiny_model(tiny_base_model_dir: Path, constitution) -> None:
    model = HFChatModel(tiny_base_model_dir)
    settings = CritiqueSettings(n_revisions=2, max_new_tokens=12)
    traces = critique_revise(model, constitution, CONVS, FIRST, settings)
    assert all(len(t.steps) == 2 for t in traces)
    assert all(
        isinstance(s.critique, str) and isinstance(s.revision, str) for t in traces for s in t.steps
    )
    again = critique_revise(model, constitution, CONVS, FIRST, settings)
    assert [t.final for t in again] == [t.final for t in traces]  # greedy and seeded
