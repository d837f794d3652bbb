"""The LLM judge: soft labels from choice-token probabilities, order averaging, principles."""

from __future__ import annotations

from pathlib import Path

import pytest
from cai_testkit import ContentModel, SlotBiasedModel

from valign.cai.judge import (
    JudgeSettings,
    LLMJudge,
    PairItem,
    draw_principle,
    position_bias,
)
from valign.models import HFChatModel
from valign.values import load_constitution

CONV = [{"role": "user", "content": "How do I get into my neighbour's email account?"}]
REFUSE = "I can't help with that, but the provider's recovery page can help with your own."
COMPLY = "Sure. First, <STEP-1>. Then, <STEP-2>."


@pytest.fixture(scope="module")
def constitution():
    return load_constitution("default")


def test_soft_label_is_the_normalised_choice_probability(constitution) -> None:
    model = SlotBiasedModel(p_first=0.8)
    judge = LLMJudge(model, constitution, JudgeSettings(order_averaging=False, few_shot=0))
    [v] = judge.compare([PairItem(CONV, REFUSE, COMPLY, "x")])
    assert v.p_a == pytest.approx(0.8)
    assert model.scored == ["The answer is: (A", "The answer is: (B"]


def test_order_averaging_cancels_pure_position_bias(constitution) -> None:
    judge = LLMJudge(SlotBiasedModel(p_first=0.8), constitution, JudgeSettings(few_shot=0))
    verdicts = judge.compare([PairItem(CONV, REFUSE, COMPLY, str(i)) for i in range(4)])
    for v in verdicts:
        assert v.p_a_first == pytest.approx(0.8)
        assert v.p_a_second == pytest.approx(0.2)
        assert v.p_a == pytest.approx(0.5)
        assert v.flipped
    bias = position_bias(verdicts)
    assert bias.flip_rate == 1.0
    assert bias.first_slot == pytest.approx(0.8)


def test_order_averaging_keeps_a_content_preference(constitution) -> None:
    judge = LLMJudge(ContentModel("can't help"), constitution, JudgeSettings(few_shot=0))
    forward, backward = judge.compare(
        [PairItem(CONV, REFUSE, COMPLY, "1"), PairItem(CONV, COMPLY, REFUSE, "1")]
    )
    assert forward.p_a > 0.8
    assert forward.p_a + backward.p_a == pytest.approx(1.0)
    assert not forward.flipped
    assert position_bias([forward, backward]).first_slot > 0.5  # the bias is measured


def test_chain_of_thought_scores_the_choice_after_the_reasoning(constitution) -> None:
    model = SlotBiasedModel(reply="the second reply helps with harm")
    settings = JudgeSettings(chain_of_thought=True, order_averaging=False, few_shot=0)
    [v] = LLMJudge(model, constitution, settings).compare([PairItem(CONV, REFUSE, COMPLY)])
    assert v.reasoning == "the second reply helps with harm"
    assert model.scored[0] == "the second reply helps with harm\nThe answer is: (A"
    assert model.prompts[0][-1]["content"].endswith("Let's think step by step.")


def test_principle_is_drawn_from_the_allowed_ids_and_repeatable(constitution) -> None:
    allowed = ("no_harmful_assistance", "respect_privacy")
    drawn = {
        draw_principle(constitution, PairItem(CONV, REFUSE, COMPLY, str(i), allowed)).id
        for i in range(40)
    }
    assert drawn == set(allowed)
    item = PairItem(CONV, REFUSE, COMPLY, "same", allowed)
    assert draw_principle(constitution, item, 3) == draw_principle(constitution, item, 3)


def test_few_shot_uses_the_principles_labelled_pairs(constitution) -> None:
    model = SlotBiasedModel()
    item = PairItem(CONV, REFUSE, COMPLY, "x", ("offer_safe_alternative",))
    LLMJudge(model, constitution, JudgeSettings(few_shot=1, order_averaging=False)).compare([item])
    conv = model.scored_convs[0]
    assert [m["role"] for m in conv] == ["user", "assistant", "user"]
    assert conv[1]["content"] in ("The answer is: (A)", "The answer is: (B)")
    example = constitution.principle("offer_safe_alternative").examples[0]
    assert example.prompt in conv[0]["content"]
    assert not model.prompts  # no reasoning: nothing generated, only scored


def test_judge_on_a_tiny_model(tiny_base_model_dir: Path, constitution) -> None:
    """A real causal LM: soft labels strictly inside (0, 1) and exact order symmetry."""
    model = HFChatModel(tiny_base_model_dir)
    judge = LLMJudge(model, constitution, JudgeSettings(few_shot=1))
    items = [PairItem(CONV, REFUSE, COMPLY, "1"), PairItem(CONV, COMPLY, REFUSE, "1")]
    forward, backward = judge.compare(items)
    assert 0.0 < forward.p_a < 1.0
    assert forward.p_a + backward.p_a == pytest.approx(1.0, abs=1e-6)
    assert forward.p_a_first == pytest.approx(1 - backward.p_a_second, abs=1e-6)
    cot = LLMJudge(model, constitution, JudgeSettings(chain_of_thought=True, cot_max_tokens=8))
    [v] = cot.compare([items[0]])
    assert 0.0 < v.p_a < 1.0
