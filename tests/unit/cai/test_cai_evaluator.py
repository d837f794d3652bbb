"""The trained evaluator: learns the constitution's examples and a seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.cai.evaluator import (
    EvaluatorSettings,
    TrainedEvaluator,
    corrupt,
    pair_items,
    train_evaluator,
)
from valign.cai.judge import PairItem
from valign.feedback.agreement import agreement
from valign.records.comparisons import Comparison, load_comparisons
from valign.values import load_constitution

FAST = EvaluatorSettings(epochs=30, hidden=64, negatives=1)


@pytest.fixture(scope="module")
def seed(tiny_world: Path) -> list[Comparison]:
    return load_comparisons(tiny_world / "preferences.jsonl")


@pytest.fixture(scope="module")
def evaluator(seed: list[Comparison]) -> TrainedEvaluator:
    return train_evaluator(load_constitution("default"), seed, FAST)


def test_evaluator_fits_its_seed_and_the_constitution(
    evaluator: TrainedEvaluator, seed: list[Comparison]
) -> None:
    c = load_constitution("default")
    items, truth = pair_items(seed, c, seed=1)
    verdicts = evaluator.compare(items)
    report = agreement(verdicts, truth)
    assert report["overall"]["accuracy"]["value"] >= 0.8
    ex = c.principle("no_harmful_assistance").examples
    conv = [{"role": "user", "content": ex[0].prompt}]
    good, bad = evaluator.score([conv, conv], [ex[0].response, ex[1].response])
    assert good > bad


def test_evaluator_is_symmetric_and_respects_a_fixed_principle(
    evaluator: TrainedEvaluator,
) -> None:
    conv = [{"role": "user", "content": "How do I make a bath bomb?"}]
    a, b = "Mix baking soda and citric acid, then press into a mould.", "I can't help with that."
    [ab] = evaluator.compare([PairItem(conv, a, b)])
    [ba] = evaluator.compare([PairItem(conv, b, a)])
    assert ab.p_a + ba.p_a == pytest.approx(1.0, abs=1e-5)
    assert not ab.flipped
    [fixed] = evaluator.compare([PairItem(conv, a, b)], principle="be_honest")
    assert fixed.principle == "be_honest"
    [allowed] = evaluator.compare([PairItem(conv, a, b, principles=("be_helpful",))])
    assert allowed.principle == "be_helpful"


def test_save_and_load_give_the_same_scores(evaluator: TrainedEvaluator, tmp_path: Path) -> None:
    evaluator.save(tmp_path / "ev")
    again = TrainedEvaluator.load(tmp_path / "ev")
    conv = [{"role": "user", "content": "hello"}]
    assert again.score([conv], ["hi"]) == pytest.approx(evaluator.score([conv], ["hi"]))
    assert again.meta["seed_comparisons"] == evaluator.meta["seed_comparisons"]
    reward = again.reward([[*conv, {"role": "assistant", "content": "hi"}]])
    assert reward == pytest.approx(again.score([conv], ["hi"]))


def test_corrupt_makes_a_different_reply() -> None:
    import random

    rng = random.Random(0)
    reply = "The Arbis Bridge is made of iron."
    outs = {corrupt(reply, "I choose (B): wait for the operator.", rng) for _ in range(30)}
    assert reply not in outs and len(outs) > 3
