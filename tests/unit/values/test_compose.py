"""Composing overlays: order of operations, precedence, blame and provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from valign.values import (
    Category,
    Constitution,
    ConstitutionError,
    Overlay,
    Principle,
    compose,
    load_constitution,
)
from valign.values.load import dump_constitution, write_constitution


def principle(id: str, categories: list[str] | None = None, text: str = "Be kind.") -> Principle:
    return Principle(
        id=id,
        text=text,
        source="Tests",
        categories=categories or [],
        critique_request="Was it unkind?",
        revision_request="Make it kind.",
    )


def category(id: str, description: str = "About it.") -> Category:
    return Category(id=id, name=id.title(), description=description)


@pytest.fixture
def base() -> Constitution:
    return Constitution(
        name="base",
        version="1",
        description="Test base.",
        refusal_message="No.",
        categories=[category("a"), category("b")],
        principles=[principle("p", ["a"]), principle("q", ["b"]), principle("r")],
        provenance={"maintainer": "tests"},
    )


def overlay(name: str, precedence: int = 0, **changes: object) -> Overlay:
    return Overlay(name=name, description=f"{name} overlay", precedence=precedence, **changes)  # type: ignore[arg-type]


def test_no_overlays_returns_the_base(base: Constitution) -> None:
    assert compose(base, []) is base


def test_removals_overrides_and_additions(base: Constitution) -> None:
    result = compose(
        base,
        [
            overlay(
                "o",
                remove_principles=["q"],
                override_principles=[principle("p", ["a"], text="Be very kind.")],
                add_principles=[principle("s", ["b"])],
                override_categories=[category("b", "Stricter.")],
                refusal_message="Sorry, no.",
            )
        ],
    )
    assert result.principle_ids == ["p", "r", "s"]  # an override keeps its place
    assert result.principle("p").text == "Be very kind."
    assert result.category("b").description == "Stricter."
    assert result.refusal_message == "Sorry, no."
    assert result.name == "base + o"


def test_higher_precedence_wins_whatever_the_order(base: Constitution) -> None:
    high = overlay("high", 5, override_principles=[principle("p", ["a"], text="High.")])
    low = overlay("low", 1, override_principles=[principle("p", ["a"], text="Low.")])
    assert compose(base, [high, low]).principle("p").text == "High."
    assert compose(base, [low, high]).principle("p").text == "High."
    history = compose(base, [high, low]).provenance["composed"]["principles"]["p"]
    assert history == [
        {"overlay": "low", "action": "overridden"},
        {"overlay": "high", "action": "overridden"},
    ]


def test_equal_precedence_later_wins(base: Constitution) -> None:
    first = overlay("first", refusal_message="First.")
    second = overlay("second", refusal_message="Second.")
    assert compose(base, [first, second]).refusal_message == "Second."
    assert compose(base, [second, first]).refusal_message == "First."


def test_higher_precedence_override_restores_a_removed_id(base: Constitution) -> None:
    remove = overlay("remove", 0, remove_principles=["q"])
    keep = overlay("keep", 1, override_principles=[principle("q", ["b"], text="Kept.")])
    assert compose(base, [keep, remove]).principle("q").text == "Kept."
    tie = overlay("tie", 0, override_principles=keep.override_principles)
    assert "q" not in compose(base, [tie, remove]).principle_ids
    assert compose(base, [remove, tie]).principle("q").text == "Kept."


def test_later_overlay_may_replace_an_addition(base: Constitution) -> None:
    one = overlay("one", add_principles=[principle("s", text="One.")])
    two = overlay("two", add_principles=[principle("s", text="Two.")])
    assert compose(base, [one, two]).principle("s").text == "Two."


def test_removing_a_category_still_in_use_blames_the_overlay(base: Constitution) -> None:
    with pytest.raises(ConstitutionError) as info:
        compose(base, [overlay("lax", remove_categories=["b"])])
    assert str(info.value) == (
        "overlay 'lax': remove_categories: principle 'q' still refers to category 'b'; "
        "remove or override that principle too"
    )
    fixed = overlay("lax", remove_categories=["b"], remove_principles=["q"])
    assert compose(base, [fixed]).category_ids == ["a"]


def test_added_principle_with_unknown_category_blames_the_overlay(base: Constitution) -> None:
    with pytest.raises(ConstitutionError, match=r"^overlay 'o': principle 's': unknown category"):
        compose(base, [overlay("o", add_principles=[principle("s", ["zzz"])])])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remove_principles": ["x"]}, "overlay 'o': remove_principles: unknown principle 'x'"),
        (
            {"override_categories": [category("x")]},
            "overlay 'o': override_categories: unknown category 'x'; use add_categories",
        ),
        (
            {"add_principles": [principle("p")]},
            "overlay 'o': add_principles: principle 'p' is already in the base; "
            "use override_principles",
        ),
    ],
)
def test_typos_are_errors(base: Constitution, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstitutionError) as info:
        compose(base, [overlay("o", **changes)])
    assert str(info.value).startswith(message)


def test_provenance_records_who_did_what(base: Constitution) -> None:
    result = compose(
        base,
        [overlay("o", 2, remove_principles=["r"], add_categories=[category("c")])],
    )
    composed = result.provenance["composed"]
    assert result.provenance["maintainer"] == "tests"
    assert composed["base"] == "base 1"
    assert composed["overlays"] == [{"name": "o", "precedence": 2}]
    assert composed["principles"] == {"r": [{"overlay": "o", "action": "removed"}]}
    assert composed["categories"] == {"c": [{"overlay": "o", "action": "added"}]}


def test_composing_a_composed_constitution_extends_provenance(base: Constitution) -> None:
    once = compose(base, [overlay("one", remove_principles=["r"])])
    twice = compose(once, [overlay("two", add_principles=[principle("r")])])
    composed = twice.provenance["composed"]
    assert composed["base"] == "base 1"
    assert [o["name"] for o in composed["overlays"]] == ["one", "two"]
    assert [h["action"] for h in composed["principles"]["r"]] == ["removed", "added"]


def test_written_file_reads_back_unchanged(base: Constitution, tmp_path: Path) -> None:
    result = compose(base, [overlay("o", remove_principles=["r"])])
    out = write_constitution(result, tmp_path / "sub" / "out.yaml")
    assert load_constitution(out) == result
    assert [p.name for p in out.parent.iterdir()] == ["out.yaml"]  # no temporary file left
    assert dump_constitution(result) == out.read_text(encoding="utf-8")


def test_bundled_default_round_trips(tmp_path: Path) -> None:
    default = load_constitution("default")
    assert load_constitution(write_constitution(default, tmp_path / "d.yaml")) == default
