"""Storing judgments and attempts exactly once, committed before the server replies.

A repeat of the same submission (a double click, a browser retry, two tabs) finds the
assignment already done, or loses the race on the unique constraint; either way it is
reported as a duplicate and nothing is written twice.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from valign.feedback.human.forms import AttemptIn, FormError, JudgmentIn
from valign.feedback.human.store import Store
from valign.feedback.human.tables import Assignment, Attempt, Item, Judgment

Outcome = Literal["stored", "duplicate"]


def record_judgment(
    store: Store, project_id: int, item_id: int, rater_id: int, j: JudgmentIn
) -> Outcome:
    try:
        with store.session() as s:
            a = s.scalar(
                select(Assignment).where(
                    Assignment.item_id == item_id, Assignment.rater_id == rater_id
                )
            )
            if a is None or a.project_id != project_id:
                raise FormError("this item is not assigned to you", 409)
            if a.done:
                return "duplicate"
            a.done = True
            s.add(
                Judgment(
                    project_id=project_id,
                    item_id=item_id,
                    rater_id=rater_id,
                    choice=j.choice,
                    strength=j.strength,
                    rating=j.rating,
                    text=j.text,
                    rationale=j.rationale,
                    principles=j.principles,
                    swapped=a.swapped,
                    assisted=a.assisted,
                    critique=a.critique if a.assisted else None,
                    seconds=j.seconds,
                )
            )
    except IntegrityError:
        return "duplicate"
    return "stored"


def record_attempt(store: Store, project_id: int, rater_id: int, a: AttemptIn) -> Outcome:
    try:
        with store.session() as s:
            if s.scalar(select(Attempt.id).where(Attempt.nonce == a.nonce)) is not None:
                return "duplicate"
            if a.item_id is not None:
                item = s.get(Item, a.item_id)
                if item is None or item.project_id != project_id:
                    raise FormError("no such objective in this project", 404)
            s.add(
                Attempt(
                    project_id=project_id,
                    rater_id=rater_id,
                    item_id=a.item_id,
                    nonce=a.nonce,
                    prompt=a.prompt,
                    response=a.response,
                    harmful=a.harmful,
                    category=a.category,
                    severity=a.severity,
                    notes=a.notes,
                )
            )
    except IntegrityError:
        return "duplicate"
    return "stored"
