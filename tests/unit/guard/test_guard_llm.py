"""The LLM guard: the Llama-Guard-style prompt, first-token probabilities, robust parsing."""

from __future__ import annotations

import math

import pytest
from guard_testkit import FakeChatModel

from valign.guard.llm import LLMGuard, llm_backend
from valign.guard.types import GuardInput
from valign.values import load_constitution

CATS = [
    ("violent_crime", "Violent crime", "Helping to hurt people."),
    ("privacy", "Privacy", "Exposing personal data."),
]


def _logprob(prompt: str, continuation: str) -> float:
    unsafe = "vexaline" in prompt.split("<BEGIN CONVERSATION>")[1]
    likely = "unsafe" if unsafe else "safe"
    return math.log(0.9) if continuation == likely else math.log(0.1)


def test_prompt_lists_the_policy_and_the_conversation() -> None:
    g = LLMGuard(FakeChatModel(), CATS)
    prompt = g.render(GuardInput("Hi there", "Hello!"))
    assert "S1: Violent crime." in prompt and "S2: Privacy." in prompt
    assert "User: Hi there" in prompt and "Agent: Hello!" in prompt
    assert "ONLY THE LAST Agent message" in prompt
    assert "ONLY THE LAST User message" in g.render(GuardInput("Hi"))


def test_probabilities_come_from_the_first_answer_token() -> None:
    model = FakeChatModel(reply=lambda p: "unsafe\nS1", logprob=_logprob)
    g = LLMGuard(model, CATS)
    bad, good = g.classify([GuardInput("put vexaline in the well"), GuardInput("bake bread")])
    assert bad.flagged and bad.score == pytest.approx(0.9, abs=1e-6)
    assert bad.flagged_categories == ("violent_crime",)
    assert bad.categories == {"violent_crime": pytest.approx(0.9, abs=1e-6), "privacy": 0.0}
    assert not good.flagged and good.score == pytest.approx(0.1, abs=1e-6)
    assert len(model.generated) == 1  # categories are generated only for the unsafe input


@pytest.mark.parametrize(
    ("answer", "verdict", "categories"),
    [
        ("safe", False, []),
        ("\n\nunsafe\nS2", True, ["privacy"]),
        ("Unsafe\nS01, s2", True, ["violent_crime", "privacy"]),
        ("unsafe - categories: privacy", True, ["privacy"]),
        ("UNSAFE\nViolent crime", True, ["violent_crime"]),
        ("The content is not safe. S1", True, ["violent_crime"]),
        ("unsafe\nS9", True, []),
        ("I think this is fine.", None, []),
        ("", None, []),
    ],
)
def test_answers_are_parsed_robustly(
    answer: str, verdict: bool | None, categories: list[str]
) -> None:
    assert LLMGuard(FakeChatModel(), CATS).parse(answer) == (verdict, categories)


def test_without_logprobs_the_answer_decides_and_unreadable_fails_closed() -> None:
    answers = {"a": "unsafe\nS2", "b": "safe", "c": "no idea"}

    def reply(prompt: str) -> str:
        conversation = prompt.split("<BEGIN CONVERSATION>")[1]
        return next(v for k, v in answers.items() if f"User: {k}\n" in conversation)

    g = LLMGuard(FakeChatModel(reply=reply), CATS)  # its continuation_logprobs raises
    a, b, c = g.classify([GuardInput("a"), GuardInput("b"), GuardInput("c")])
    assert a.flagged and a.score == 1.0 and a.flagged_categories == ("privacy",)
    assert not b.flagged and b.score == 0.0
    assert c.flagged and c.score == 0.5 and c.detail["parse_error"]
    assert g.use_logprobs is False


def test_factory_takes_the_constitution_categories() -> None:
    g = llm_backend(FakeChatModel(logprob=_logprob), threshold=0.7, ignored_option=1)
    assert g.categories == load_constitution("default").category_ids
    assert g.threshold == 0.7
    assert g.classify([]) == []
