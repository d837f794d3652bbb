"""Assignment: overlap, gold interleaving, leases."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from human_testkit import make_store
from sqlalchemy import select, update

from valign.feedback.human.assign import next_assignment
from valign.feedback.human.tables import Assignment, Item, User


def _uid(store, name):  # type: ignore[no-untyped-def]
    with store.session() as s:
        return s.scalar(select(User.id).where(User.name == name))


def _take_all(store, project, rater, rng):  # type: ignore[no-untyped-def]
    out = []
    while True:
        with store.session() as s:
            a = next_assignment(s, project, rater, rng)
            if a is None:
                return out
            a.done = True
            gold = s.get(Item, a.item_id).gold is not None
        out.append((a.item_id, gold))


def test_overlap_and_gold(tmp_path: Path) -> None:
    from valign.feedback.human.projects import get_project

    store = make_store(tmp_path, n=6, gold=2, overlap=2, gold_every=2)
    project = get_project(store, "p1")
    rng = random.Random(0)
    taken = {
        name: _take_all(store, project, _uid(store, name), rng) for name in ("ana", "bo", "cy")
    }
    regular = [i for seq in taken.values() for i, g in seq if not g]
    assert sorted(regular) == sorted(list(range(1, 7)) * 2)  # every item exactly twice
    # gold comes after every 2 regular items, each gold item at most once per rater
    ana = taken["ana"]
    assert [g for _, g in ana[:6]] == [False, False, True, False, False, True]
    for seq in taken.values():
        golds = [i for i, g in seq if g]
        assert len(golds) == len(set(golds))


def test_open_assignment_is_returned_again_and_leases_expire(tmp_path: Path) -> None:
    from valign.feedback.human.projects import get_project

    store = make_store(tmp_path, n=1, gold=0, overlap=1, gold_every=0)
    project = get_project(store, "p1")
    rng = random.Random(0)
    ana, bo = _uid(store, "ana"), _uid(store, "bo")
    with store.session() as s:
        first = next_assignment(s, project, ana, rng)
        again = next_assignment(s, project, ana, rng)
        assert first is not None and again is not None and first.id == again.id
        assert next_assignment(s, project, bo, rng) is None  # the only item is leased
        s.execute(update(Assignment).values(created_at=Assignment.created_at - timedelta(hours=2)))
        assert next_assignment(s, project, bo, rng, lease_minutes=30) is not None
