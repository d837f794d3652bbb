"""Which item a rater judges next.

Each regular item goes to ``overlap`` different raters (so agreement can be measured); the
queue fills the most-judged items first, so complete sets of judgments arrive early. After
every ``gold_every`` regular items a rater gets a gold question they have not seen, which
looks like any other item. An assignment fixes, once, whether the two replies are shown
swapped (left/right position bias averages out) and whether the AI critique is shown (a
random draw at the project's ``assist_rate``, so assisted and unassisted judgments form a
controlled comparison). An item handed out but not judged within the lease goes back to
the pool for others.

Assignment is serialised per project (a lock on SQLite, an advisory lock on PostgreSQL), so
concurrent raters never push an item past its overlap.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from valign.feedback.human.tables import Assignment, Item, Project, utcnow


def _open(s: Session, project: Project, rater_id: int) -> Assignment | None:
    return s.scalar(
        select(Assignment)
        .where(
            Assignment.project_id == project.id,
            Assignment.rater_id == rater_id,
            Assignment.done.is_(False),
        )
        .order_by(Assignment.id)
        .limit(1)
    )


def _pick_regular(s: Session, project: Project, rater_id: int, lease_minutes: float) -> int | None:
    cutoff = utcnow() - timedelta(minutes=lease_minutes)
    taken = (
        select(Assignment.item_id, func.count().label("n"))
        .where(
            Assignment.project_id == project.id,
            or_(Assignment.done.is_(True), Assignment.created_at > cutoff),
        )
        .group_by(Assignment.item_id)
        .subquery()
    )
    mine = select(Assignment.item_id).where(
        Assignment.project_id == project.id, Assignment.rater_id == rater_id
    )
    n = func.coalesce(taken.c.n, 0)
    return s.scalar(
        select(Item.id)
        .outerjoin(taken, taken.c.item_id == Item.id)
        .where(
            Item.project_id == project.id,
            Item.gold.is_(None),
            Item.id.not_in(mine),
            n < project.overlap,
        )
        .order_by(n.desc(), Item.id)
        .limit(1)
    )


def _pick_gold(s: Session, project: Project, rater_id: int) -> int | None:
    if project.gold_every <= 0:
        return None
    counts = dict(
        s.execute(
            select(Item.gold.is_not(None), func.count())
            .join(Assignment, Assignment.item_id == Item.id)
            .where(Assignment.project_id == project.id, Assignment.rater_id == rater_id)
            .group_by(Item.gold.is_not(None))
        ).all()
    )
    regular, gold = counts.get(False, 0), counts.get(True, 0)
    if regular < (gold + 1) * project.gold_every:
        return None
    seen = select(Assignment.item_id).where(Assignment.rater_id == rater_id)
    return s.scalar(
        select(Item.id)
        .where(and_(Item.project_id == project.id, Item.gold.is_not(None)), Item.id.not_in(seen))
        .order_by(Item.id)
        .limit(1)
    )


def next_assignment(
    s: Session,
    project: Project,
    rater_id: int,
    rng: random.Random,
    lease_minutes: float = 30.0,
    can_assist: bool = False,
) -> Assignment | None:
    """The rater's open assignment, or a new one; None when nothing is left for them."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + project.id})
    current = _open(s, project, rater_id)
    if current is not None:
        return current
    item_id = _pick_gold(s, project, rater_id)
    if item_id is None:
        item_id = _pick_regular(s, project, rater_id, lease_minutes)
    if item_id is None:
        return None
    stale = s.scalar(
        select(Assignment).where(Assignment.item_id == item_id, Assignment.rater_id == rater_id)
    )
    if stale is not None:  # cannot happen (mine is excluded); keep the constraint honest
        return stale
    assignment = Assignment(
        project_id=project.id,
        item_id=item_id,
        rater_id=rater_id,
        swapped=project.kind == "pairwise" and rng.random() < 0.5,
        assisted=can_assist and project.kind == "pairwise" and rng.random() < project.assist_rate,
        done=False,
    )
    s.add(assignment)
    s.flush()
    return assignment
