"""Export for training: comparisons, demonstrations, ratings, red-team attempts, agreement.

``comparisons.jsonl`` is :mod:`valign.records.comparisons`' format, read as-is by the
reward, cost and DPO trainers. ``each`` mode writes one row per non-tie judgment (rater id
in ``rater``); ``majority`` writes one row per item whose raters have a clear majority
(``rater`` lists them). Either way ``p_chosen`` is the share of the item's raters who
preferred the chosen reply (a tie counts half), a soft label the reward model can use, and
``meta`` keeps the item, strength, rationale, whether AI help was shown, seconds taken, the
rater's gold accuracy and the project's alpha. Raters below ``min_gold_accuracy`` can be
left out. Demonstrations are ``{"messages": [...]}`` lines as ``valign.train.sft`` reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from valign.errors import UserError
from valign.feedback.human.quality import ProjectStats, judged_rows, project_stats
from valign.feedback.human.store import Store
from valign.feedback.human.tables import Attempt, Item, Judgment, Project, User
from valign.records.comparisons import Comparison, write_comparisons
from valign.records.runs import atomic_write_text

Mode = Literal["each", "majority"]


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _kept(stats: ProjectStats, rater: str, min_gold_accuracy: float | None) -> bool:
    if min_gold_accuracy is None:
        return True
    acc = stats.raters[rater].gold_accuracy if rater in stats.raters else None
    return acc is not None and acc >= min_gold_accuracy


def project_comparisons(
    store: Store, name: str, mode: Mode = "each", min_gold_accuracy: float | None = None
) -> Iterator[Comparison]:
    project, rows = judged_rows(store, name)
    if project.kind != "pairwise":
        raise UserError(f"project {name!r} is a {project.kind} project, not pairwise")
    stats = project_stats(store, name)
    rows = [r for r in rows if _kept(stats, r[2].name, min_gold_accuracy)]
    by_item: dict[int, list[tuple[Judgment, Item, User]]] = defaultdict(list)
    for r in rows:
        by_item[r[1].id].append(r)
    for group in by_item.values():
        item = group[0][1]
        votes = {"A": 0.0, "B": 0.0}
        for j, _, _ in group:
            if j.choice == "tie":
                votes["A"] += 0.5
                votes["B"] += 0.5
            elif j.choice in votes:
                votes[j.choice] += 1.0
        base = {
            "project": project.name,
            "item": item.external_id,
            "gold": item.gold is not None,
            "raters": len(group),
            "alpha": stats.alpha,
            **({"item_meta": item.meta} if item.meta else {}),
        }
        if mode == "majority":
            winner = max(votes, key=lambda k: votes[k])
            if votes[winner] <= len(group) / 2:
                continue
            yield _comparison(
                item,
                winner,
                f"{project.name}/{item.external_id}",
                "+".join(sorted(u.name for _, _, u in group)),
                sorted({p for j, _, _ in group for p in j.principles}),
                votes[winner] / len(group),
                max(_utc(j.created_at) for j, _, _ in group),
                base,
            )
            continue
        for j, _, u in group:
            if j.choice not in ("A", "B"):
                continue
            meta = {
                **base,
                "strength": j.strength,
                "rationale": j.rationale or None,
                "assisted": j.assisted,
                "seconds": j.seconds,
                "rater_gold_accuracy": stats.raters[u.name].gold_accuracy,
            }
            yield _comparison(
                item,
                j.choice,
                f"{project.name}/{item.external_id}/{u.name}",
                u.name,
                list(j.principles),
                votes[j.choice] / len(group),
                _utc(j.created_at),
                {k: v for k, v in meta.items() if v is not None},
            )


def _comparison(
    item: Item,
    winner: str,
    cid: str,
    rater: str,
    principles: list[str],
    p_chosen: float,
    when: datetime,
    meta: dict[str, Any],
) -> Comparison:
    a, b = item.response_a, item.response_b or ""
    chosen, rejected = (a, b) if winner == "A" else (b, a)
    return Comparison(
        id=cid,
        prompt=item.prompt,
        chosen=chosen,
        rejected=rejected,
        source="human",
        rater=rater,
        principles=principles,
        category=item.meta.get("category"),
        p_chosen=round(p_chosen, 6),
        timestamp=when,
        meta=meta,
    )


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> int:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def demonstrations(store: Store, name: str) -> list[dict[str, Any]]:
    project, rows = judged_rows(store, name)
    return [
        {
            "messages": [*i.prompt, {"role": "assistant", "content": j.text}],
            "meta": {
                "project": project.name,
                "item": i.external_id,
                "rater": u.name,
                "draft": i.response_a or None,
                "timestamp": _utc(j.created_at).isoformat(),
            },
        }
        for j, i, u in rows
        if j.text
    ]


def ratings(store: Store, name: str) -> list[dict[str, Any]]:
    project, rows = judged_rows(store, name)
    return [
        {
            "id": f"{project.name}/{i.external_id}/{u.name}",
            "prompt": i.prompt,
            "response": i.response_a,
            "rating": j.rating,
            "scale": [1, project.likert_points],
            "rater": u.name,
            "principles": j.principles,
            "gold": i.gold is not None,
            "timestamp": _utc(j.created_at).isoformat(),
        }
        for j, i, u in rows
        if j.rating is not None
    ]


def attempts(store: Store, name: str) -> list[dict[str, Any]]:
    with store.session() as s:
        project = s.scalar(select(Project).where(Project.name == name))
        if project is None:
            raise UserError(f"no project named {name!r}")
        rows = s.execute(
            select(Attempt, User, Item)
            .join(User, User.id == Attempt.rater_id)
            .outerjoin(Item, Item.id == Attempt.item_id)
            .where(Attempt.project_id == project.id)
            .order_by(Attempt.id)
        ).all()
        return [
            {
                "id": f"{project.name}/attempt-{a.id}",
                "objective": i.prompt[-1]["content"] if i is not None else None,
                "prompt": a.prompt,
                "response": a.response,
                "harmful": a.harmful,
                "category": a.category,
                "severity": a.severity,
                "notes": a.notes,
                "rater": u.name,
                "timestamp": _utc(a.created_at).isoformat(),
            }
            for a, u, i in rows
        ]


def export_project(
    store: Store,
    name: str,
    out: Path,
    mode: Mode = "each",
    min_gold_accuracy: float | None = None,
) -> dict[str, int]:
    """Write every file that applies to the project into ``out``; returns lines per file."""
    project, _ = judged_rows(store, name)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    if project.kind == "pairwise":
        rows = project_comparisons(store, name, mode, min_gold_accuracy)
        written["comparisons.jsonl"] = write_comparisons(out / "comparisons.jsonl", rows)
    elif project.kind == "demonstration":
        written["demonstrations.jsonl"] = _jsonl(
            out / "demonstrations.jsonl", demonstrations(store, name)
        )
    elif project.kind == "rating":
        written["ratings.jsonl"] = _jsonl(out / "ratings.jsonl", ratings(store, name))
    else:
        written["attempts.jsonl"] = _jsonl(out / "attempts.jsonl", attempts(store, name))
    stats = project_stats(store, name).to_dict()
    atomic_write_text(out / "agreement.json", json.dumps(stats, indent=2) + "\n")
    written["agreement.json"] = 1
    return written
