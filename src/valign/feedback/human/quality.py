"""Label quality of a project: agreement, accuracy on gold, and the effect of AI assistance.

Computed from the database on demand (the admin page, the export): Krippendorff's alpha
over every item judged twice or more (nominal on A/B/tie, interval on Likert ratings),
Cohen's kappa for each pair of raters, each rater's accuracy on gold questions (a rating
counts as correct within one point), agreement with the other raters' majority, median
seconds per judgment, and the same accuracy and speed split by whether the critique was
shown. Position bias is reported as the share of non-tie choices that went to the left reply.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from valign.errors import UserError
from valign.feedback.human.agreement import krippendorff_alpha, pairwise_kappas
from valign.feedback.human.store import Store
from valign.feedback.human.tables import Attempt, Item, Judgment, Project, User


@dataclass
class GroupStats:
    """Judgments of one rater, or of one assistance condition."""

    judgments: int = 0
    gold_judged: int = 0
    gold_correct: int = 0
    gold_accuracy: float | None = None
    median_seconds: float | None = None
    majority_agreement: float | None = None


@dataclass
class ProjectStats:
    project: str
    kind: str
    items: int
    gold_items: int
    judgments: int
    complete_items: int
    attempts: int
    alpha: float | None
    alpha_metric: str
    kappas: list[dict[str, Any]] = field(default_factory=list)
    raters: dict[str, GroupStats] = field(default_factory=dict)
    assistance: dict[str, GroupStats] = field(default_factory=dict)
    left_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def label_of(kind: str, j: Judgment) -> Hashable | None:
    if kind == "pairwise":
        return j.choice
    if kind == "rating":
        return j.rating
    return None


def gold_correct(kind: str, gold: str, j: Judgment) -> bool:
    if kind == "rating":
        return j.rating is not None and abs(j.rating - int(gold)) <= 1
    return j.choice == gold


def _median(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def _group(
    rows: list[tuple[Judgment, Item]], kind: str, majority: dict[int, Hashable]
) -> GroupStats:
    g = GroupStats(judgments=len(rows))
    gold = [(j, i) for j, i in rows if i.gold is not None]
    g.gold_judged = len(gold)
    g.gold_correct = sum(gold_correct(kind, i.gold, j) for j, i in gold if i.gold is not None)
    g.gold_accuracy = g.gold_correct / g.gold_judged if g.gold_judged else None
    g.median_seconds = _median([j.seconds for j, _ in rows])
    voted = [(j, i) for j, i in rows if (j.id in majority)]
    if voted:
        g.majority_agreement = sum(label_of(kind, j) == majority[j.id] for j, _ in voted) / len(
            voted
        )
    return g


def _majority_of_others(rows: list[tuple[Judgment, Item, User]], kind: str) -> dict[int, Hashable]:
    """For each judgment, the most common label the *other* raters gave its item (if any)."""
    by_item: dict[int, list[Judgment]] = defaultdict(list)
    for j, _, _ in rows:
        if label_of(kind, j) is not None:
            by_item[j.item_id].append(j)
    out: dict[int, Hashable] = {}
    for js in by_item.values():
        for j in js:
            others = Counter(label_of(kind, o) for o in js if o.id != j.id)
            if others:
                (top, n), *rest = others.most_common()
                if not rest or rest[0][1] < n:  # a clear majority only
                    out[j.id] = top
    return out


JudgedRow = tuple[Judgment, Item, User]


def judged_rows(store: Store, name: str) -> tuple[Project, list[JudgedRow]]:
    """A project and its judgments, each with its item and rater, in item order."""
    with store.session() as s:
        project = s.scalar(select(Project).where(Project.name == name))
        if project is None:
            raise UserError(f"no project named {name!r}")
        rows = [
            (j, i, u)
            for j, i, u in s.execute(
                select(Judgment, Item, User)
                .join(Item, Item.id == Judgment.item_id)
                .join(User, User.id == Judgment.rater_id)
                .where(Judgment.project_id == project.id)
                .order_by(Item.id, Judgment.id)
            ).all()
        ]
    return project, rows


def project_stats(store: Store, project_name: str) -> ProjectStats:
    project, rows = judged_rows(store, project_name)
    with store.session() as s:
        items = s.scalar(select(func.count()).where(Item.project_id == project.id)) or 0
        gold_items = (
            s.scalar(
                select(func.count()).where(Item.project_id == project.id, Item.gold.is_not(None))
            )
            or 0
        )
        attempts = s.scalar(select(func.count()).where(Attempt.project_id == project.id)) or 0
    kind = project.kind
    by_item: dict[int, list[Hashable]] = defaultdict(list)
    labels: dict[Hashable, dict[Hashable, Hashable]] = defaultdict(dict)
    for j, _, u in rows:
        label = label_of(kind, j)
        if label is not None:
            by_item[j.item_id].append(label)
            labels[u.name][j.item_id] = label
    metric = "interval" if kind == "rating" else "nominal"
    alpha = krippendorff_alpha(by_item.values(), metric) if by_item else None  # type: ignore[arg-type]
    kappas = [
        {"rater_a": a, "rater_b": b, "shared": n, "kappa": k}
        for a, b, n, k in pairwise_kappas(labels)
    ]
    majority = _majority_of_others(rows, kind)
    per_rater: dict[str, list[tuple[Judgment, Item]]] = defaultdict(list)
    per_assist: dict[str, list[tuple[Judgment, Item]]] = defaultdict(list)
    for j, i, u in rows:
        per_rater[u.name].append((j, i))
        per_assist["assisted" if j.assisted else "unassisted"].append((j, i))
    decided = [j for j, _, _ in rows if j.choice in ("A", "B")]
    left = sum((j.choice == "A") != j.swapped for j in decided)
    return ProjectStats(
        project=project.name,
        kind=kind,
        items=items,
        gold_items=gold_items,
        judgments=len(rows),
        complete_items=sum(
            1
            for n in Counter(j.item_id for j, i, _ in rows if i.gold is None).values()
            if n >= project.overlap
        ),
        attempts=attempts,
        alpha=alpha,
        alpha_metric=metric,
        kappas=kappas,
        raters={name: _group(r, kind, majority) for name, r in sorted(per_rater.items())},
        assistance={k: _group(r, kind, majority) for k, r in sorted(per_assist.items())},
        left_share=left / len(decided) if decided else None,
    )
