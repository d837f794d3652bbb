"""The chat-model explainer and simulator: the paper's prompt format, and reply parsing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from valign.interp.llm_explainer import (
    LLMExplainer,
    explainer_prompt,
    parse_explanation,
    parse_simulation,
    simulator_prompt,
)
from valign.interp.neurons import Example
from valign.interp.store import StoredRecord
from valign.models.types import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation


def _record(tokens: list[str]) -> StoredRecord:
    return StoredRecord("r", None, 0, len(tokens), tokens, [], "".join(tokens))


class ScriptedModel:
    """A ChatModel that answers from a script and remembers the prompts it got."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[Conversation] = []

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        self.prompts += list(convs)
        return [self.reply] * len(convs)

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        return [ContinuationScore(0.0, 0)] * len(convs)


def test_explainer_prompt_shows_discretised_activations() -> None:
    ex = Example(_record(["The", " Osk", " are"]), np.array([0.0, 2.0, 0.5]))
    user = explainer_prompt([ex], max_act=2.0)[1]["content"]
    assert "<start>\nThe\t0\n Osk\t10\n are\t2\n<end>" in user  # 0.5/2*10 = 2.5 -> 2
    assert "all zeros filtered out:\n<start>\n Osk\t10\n are\t2\n<end>" in user
    assert user.endswith("the main thing this neuron does is find")


def test_simulator_prompt_and_parsing() -> None:
    user = simulator_prompt("group names", _record(["The", "\n"]))[1]["content"]
    assert "find group names" in user and "<start>\nThe\tunknown\n\\n\tunknown\n<end>" in user
    reply = "<start>\nThe\t0\n Osk\t9\n are\t14\n<end>"
    assert parse_simulation(reply, 4).tolist() == [0.0, 9.0, 10.0, 0.0]  # capped, padded
    assert parse_simulation("no numbers here", 2).tolist() == [0.0, 0.0]
    assert (
        parse_explanation("\n the main thing this neuron does is find group names.\nmore")
        == "group names"
    )
    assert parse_explanation("") == "(no explanation)"


def test_llm_explainer_round_trip_scores_a_perfect_simulator() -> None:
    records = [_record(["a", "b", "c"]), _record(["d", "e"])]
    explainer = LLMExplainer(ScriptedModel("letters b and e"), ScriptedModel("x\t0\ny\t10\nz\t0"))
    ex = [Example(r, np.array([0.0, 1.0, 0.0][: r.n_tokens])) for r in records]
    assert explainer.explain(ex, 1.0) == "letters b and e"
    sims = explainer.simulate("letters b and e", records)
    assert [s.tolist() for s in sims] == [[0.0, 10.0, 0.0], [0.0, 10.0]]
    assert "letters b and e" in explainer.simulator.prompts[0][1]["content"]  # type: ignore[attr-defined]
