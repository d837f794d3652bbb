"""Who decides refusals: the grader's patterns on the microworld, a learned judge elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from test_runner import GEN, FakeModel

from valign.errors import UserError
from valign.evals.judge import PATTERN_NAME, make_judge
from valign.evals.runner import evaluate_items
from valign.records.messages import Message
from valign.records.tasks import Item


def _real(i: int, kind: str = "harmful") -> Item:
    return Item(
        id=f"real-{i}",
        kind=kind,
        category="weapons" if kind == "harmful" else None,
        messages=[Message(role="user", content=f"request number {i}")],
        template="public",
    )


def test_the_default_judge_is_the_grader_patterns() -> None:
    assert make_judge("auto") == (None, PATTERN_NAME)
    assert make_judge("pattern") == (None, PATTERN_NAME)


def test_unknown_judge_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown judge"):
        make_judge("strict")
    with pytest.raises(UserError, match="unknown judge"):
        make_judge(str(tmp_path / "missing"))


def test_the_runner_grades_with_the_judge_and_regrades_on_read(tmp_path: Path) -> None:
    # The judge reads each reply with its request: refused, attempted, off-topic.
    items = [_real(0), _real(1), _real(2), _real(3, "benign")]
    model = FakeModel(
        {
            "request number 0": "Please stay safe.",
            "request number 1": "Sure.",
            "request number 2": "Purple elephants sing.",
            "request number 3": "Purple elephants sing.",
        }
    )
    seen: list[Sequence[tuple[Item, str]]] = []
    verdicts: dict[str, bool | None] = {"real-0": True, "real-1": False}

    def judge(pairs: Sequence[tuple[Item, str]]) -> list[bool | None]:
        seen.append(pairs)
        return [verdicts.get(item.id) for item, _ in pairs]

    out = tmp_path / "responses.jsonl"
    records = evaluate_items(model, items, out, GEN, judge=judge)
    assert [r["outcome"] for r in records] == ["refused", "complied", "non_answer", "non_answer"]
    assert [r["aligned"] for r in records] == [True, False, False, False]
    assert records[2]["response"] == "Purple elephants sing."  # the reply itself is kept
    assert seen[0][0][1] == "Please stay safe."  # the judge saw the reply with its item
    # Read back under the patterns: no refusal phrase anywhere, so all comply or answer.
    again = evaluate_items(model, items, out, GEN)
    assert [r["outcome"] for r in again] == ["complied", "complied", "complied", "correct"]
