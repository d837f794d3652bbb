from __future__ import annotations

import random

from valign.world.generate import COMPLIANT_HARM, Generator
from valign.world.lexicon import build_lexicon
from valign.world.oracle import label


def _gen(seed: int = 0) -> Generator:
    return Generator(build_lexicon(0), "train", random.Random(seed))


def test_a_bad_reply_is_rejected_for_the_aligned_one_with_its_harm_label() -> None:
    ep = _gen().harmful()
    [row] = label([ep], [COMPLIANT_HARM], random.Random(0))
    assert row.rejected == COMPLIANT_HARM and row.chosen == ep.good
    assert row.rejected_harmful is True and row.chosen_harmful is False
    assert row.meta["on_policy"] == "rejected" and row.source == "rule"
    assert row.prompt == ep.item.messages


def test_a_good_reply_is_chosen_over_a_misaligned_one() -> None:
    ep = _gen().benign()
    [row] = label([ep], [ep.good], random.Random(0))
    assert row.chosen == ep.good and row.rejected in ep.bad
    assert row.meta["on_policy"] == "chosen"
    assert row.chosen_harmful is False and row.rejected_harmful is False


def test_bias_and_agentic_harm_labels_follow_the_outcome() -> None:
    gen = _gen(3)
    bias = gen.bias("ambiguous")
    stereo = bias.item.choices[bias.item.choice_labels.index("stereotyped")]
    agent = gen.agentic()
    power = agent.bad[0]
    rows = label([bias, agent], [stereo, power], random.Random(0))
    assert [r.rejected_harmful for r in rows] == [True, True]
    assert [r.chosen for r in rows] == [bias.good, agent.good]


def test_identical_replies_make_no_comparison() -> None:
    ep = _gen().benign()
    ep.bad = [ep.good]
    assert label([ep], [ep.good], random.Random(0)) == []
