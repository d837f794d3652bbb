"""The rubric follows the constitution; an overlay that rewrites a category retires its labels."""

from __future__ import annotations

from valign.cai.rubric import changed_categories, principles_for, seed_rubric
from valign.records.comparisons import Comparison
from valign.values import Category, Overlay, compose, load_constitution


def _row(i: int, category: str | None, kind: str) -> Comparison:
    return Comparison(
        id=str(i),
        prompt=[{"role": "user", "content": "q"}],
        chosen="a",
        rejected="b",
        source="rule",
        category=category,
        kind=kind,
    )


def test_principles_follow_the_taxonomy() -> None:
    c = load_constitution("default")
    assert principles_for(c, None, "benign") == ("be_helpful",)
    assert principles_for(c, "privacy", "borderline") == ("be_helpful",)
    assert "respect_privacy" in principles_for(c, "privacy", "harmful")
    assert principles_for(c, "no_such_category", "harmful") == ()


def test_overlay_precedence_decides_which_rule_the_evaluator_learns() -> None:
    base = load_constitution("default")
    privacy = base.category("privacy")
    strict = Overlay(
        name="strict",
        description="d",
        precedence=5,
        override_categories=[Category(id="privacy", name="Strict", description="x")],
    )
    lax = Overlay(
        name="lax",
        description="d",
        precedence=1,
        override_categories=[Category(id="privacy", name="Lax", description="y")],
    )
    composed = compose(base, [strict, lax])  # lax is listed later but has lower precedence
    assert composed.category("privacy").name == "Strict"
    assert changed_categories(composed) == {"privacy"}
    assert changed_categories(base) == set()
    rows = [_row(0, "privacy", "harmful"), _row(1, "fraud", "harmful"), _row(2, None, "benign")]
    kept = [r.id for r, _ in seed_rubric(rows, composed)]
    assert kept == ["1", "2"]  # labels given under the old privacy rule are retired
    assert [r.id for r, _ in seed_rubric(rows, base)] == ["0", "1", "2"]
    assert privacy.name != "Strict"
