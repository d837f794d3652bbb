"""The models: validation rules, lookups, and the bundled data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from valign.values import (
    Category,
    Constitution,
    Example,
    Overlay,
    Principle,
    compose,
    load_constitution,
    load_overlay,
)
from valign.values.load import bundled_overlays
from valign.values.schema import REFERENCE_ERROR

CATEGORY_IDS = [
    "violent_crime",
    "nonviolent_crime",
    "weapons_mass_harm",
    "cyber_attack",
    "fraud",
    "self_harm",
    "hate_harassment",
    "discrimination",
    "privacy",
    "sexual_content",
    "misinformation",
    "dangerous_autonomy",
]


def principle(id: str, categories: list[str] | None = None) -> Principle:
    return Principle(
        id=id,
        text="Be kind.",
        source="Tests",
        categories=categories or [],
        critique_request="Was it unkind?",
        revision_request="Make it kind.",
    )


def constitution(principles: list[Principle], categories: list[str] = ["a", "b"]) -> Constitution:  # noqa: B006
    return Constitution(
        name="t",
        version="1",
        description="Test.",
        refusal_message="No.",
        categories=[Category(id=c, name=c, description=c) for c in categories],
        principles=principles,
    )


def test_models_are_frozen_and_strict() -> None:
    category = Category(id="a", name="A", description="About a.")
    with pytest.raises(ValidationError):
        category.name = "B"
    with pytest.raises(ValidationError, match="Extra inputs"):
        Category(id="a", name="A", description="About a.", colour="red")  # type: ignore[call-arg]


def test_fields_have_help_text() -> None:
    for model in (Category, Example, Principle, Constitution, Overlay):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_example_verdict_is_a_label() -> None:
    assert Example(prompt="p", response="r", verdict="violates").note == ""
    with pytest.raises(ValidationError):
        Example(prompt="p", response="r", verdict="maybe")  # type: ignore[arg-type]


def test_ids_are_snake_case() -> None:
    with pytest.raises(ValidationError, match="snake_case"):
        principle("Be-Kind")
    with pytest.raises(ValidationError, match="snake_case"):
        principle("be_kind", ["Violence"])


def test_reference_errors_carry_their_path() -> None:
    with pytest.raises(ValidationError) as info:
        constitution([principle("p"), principle("q", ["a", "c"])])
    error = info.value.errors()[0]
    assert error["type"] == REFERENCE_ERROR
    assert error["ctx"]["at"] == ("principles", 1, "categories", 1)
    assert "unknown category 'c' (known: a, b)" in error["msg"]


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate principle id 'p'"):
        constitution([principle("p"), principle("p")])
    with pytest.raises(ValidationError, match="duplicate category id 'a'"):
        constitution([], categories=["a", "a"])


def test_lookups() -> None:
    c = constitution([principle("p", ["a"]), principle("q"), principle("r", ["a", "b"])])
    assert c.category("b").id == "b"
    assert c.principle("q").categories == []
    assert [p.id for p in c.principles_for("a")] == ["p", "r"]
    assert c.principles_for("b") == [c.principle("r")]
    with pytest.raises(KeyError, match="unknown category 'z'"):
        c.principles_for("z")
    with pytest.raises(KeyError, match="known: p, q, r"):
        c.principle("z")


def test_overlay_rejects_an_id_in_two_lists() -> None:
    with pytest.raises(ValidationError, match="principle id 'p' appears also in remove_principles"):
        Overlay(
            name="o", description="d", remove_principles=["p"], override_principles=[principle("p")]
        )
    with pytest.raises(ValidationError, match="appears twice"):
        Overlay(name="o", description="d", add_principles=[principle("p"), principle("p")])


def test_bundled_default_has_the_shared_taxonomy() -> None:
    default = load_constitution("default")
    assert default.category_ids == CATEGORY_IDS
    assert 12 <= len(default.principles) <= 16
    for category_id in CATEGORY_IDS:
        assert default.principles_for(category_id), f"no principle covers {category_id}"
    assert default.principle("be_helpful").categories == []


def test_bundled_principles_are_complete() -> None:
    for p in load_constitution("default").principles:
        assert p.source and p.critique_request and p.revision_request
        assert 1 <= len(p.examples) <= 3, p.id
    sources = " ".join(p.source for p in load_constitution("default").principles)
    for article in ("Art. 1", "Art. 2", "Art. 3", "Art. 5", "Art. 12", "Art. 19"):
        assert f"Universal Declaration of Human Rights, {article}" in sources


def test_bundled_overlays_compose_with_default() -> None:
    default = load_constitution("default")
    for name in bundled_overlays():
        composed = compose(default, [load_overlay(name)])
        assert composed.category_ids == CATEGORY_IDS


def test_eu_overlay_tightens_privacy() -> None:
    composed = compose(load_constitution("default"), [load_overlay("eu")])
    assert "GDPR" in composed.principle("respect_privacy").source
    assert "Art. 9" in composed.category("privacy").description
    assert "Art. 22" in composed.principle("human_review_of_automated_decisions").source


def test_a_category_maps_only_to_openai_moderation_names() -> None:
    ok = Category(id="c", name="C", description="d", openai_moderation=["illicit", "violence"])
    assert ok.openai_moderation == ["illicit", "violence"]
    assert Category(id="c", name="C", description="d").openai_moderation == []
    with pytest.raises(ValidationError, match="openai_moderation"):
        Category(id="c", name="C", description="d", openai_moderation=["illegal"])
