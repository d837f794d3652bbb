"""OpenAI's moderation categories, from the constitution's ``openai_moderation`` fields."""

from __future__ import annotations

import pytest
from guard_testkit import FakeBackend

from valign.guard.openai_categories import category_map, load_category_map, openai_fields
from valign.guard.server import check_category_map, create_app
from valign.guard.types import GuardVerdict
from valign.values import compose, load_constitution, load_overlay
from valign.values.schema import OPENAI_MODERATION_CATEGORIES


def test_the_default_constitution_maps_its_harms_and_leaves_the_rest_out() -> None:
    mapping = load_category_map()
    assert mapping == {
        "violent_crime": ("violence", "illicit", "illicit/violent"),
        "nonviolent_crime": ("illicit",),
        "weapons_mass_harm": ("illicit", "illicit/violent"),
        "cyber_attack": ("illicit",),
        "fraud": ("illicit",),
        "self_harm": ("self-harm", "self-harm/instructions"),
        "hate_harassment": ("hate", "harassment"),
        "sexual_content": ("sexual",),
    }
    unmapped = set(load_constitution("default").category_ids) - set(mapping)
    assert unmapped == {"discrimination", "privacy", "misinformation", "dangerous_autonomy"}


def test_an_overlay_keeps_the_mapping_of_categories_it_does_not_replace() -> None:
    eu = category_map(compose(load_constitution("default"), [load_overlay("eu")]))
    assert eu == load_category_map()  # eu replaces privacy, which maps to nothing


def verdict(scores: dict[str, float], hits: tuple[str, ...]) -> GuardVerdict:
    return GuardVerdict(bool(hits), max(scores.values()), scores, hits)


def test_scores_take_the_highest_mapped_score_and_flags_follow_flagged_categories() -> None:
    mapping = {"fraud": ("illicit",), "cyber_attack": ("illicit",), "self_harm": ("self-harm",)}
    fields = openai_fields(
        verdict({"fraud": 0.3, "cyber_attack": 0.8, "self_harm": 0.6, "privacy": 0.9}, ("fraud",)),
        mapping,
    )
    assert list(fields["categories"]) == list(OPENAI_MODERATION_CATEGORIES)
    assert fields["category_scores"]["illicit"] == 0.8
    assert fields["categories"]["illicit"] is True  # fraud was flagged
    assert fields["category_scores"]["self-harm"] == 0.6
    assert fields["categories"]["self-harm"] is False  # scored, but not flagged
    others = set(OPENAI_MODERATION_CATEGORIES) - {"illicit", "self-harm"}
    assert all(fields["category_scores"][c] == 0.0 for c in others)  # privacy maps to nothing
    assert not any(fields["categories"][c] for c in others)
    assert set(fields["category_applied_input_types"]) == set(OPENAI_MODERATION_CATEGORIES)


def test_a_flagged_input_with_no_category_flags_no_openai_category() -> None:
    fields = openai_fields(GuardVerdict(True, 0.9, {"fraud": 0.1}, ()), {"fraud": ("illicit",)})
    assert not any(fields["categories"].values())


def test_unknown_openai_names_are_refused() -> None:
    with pytest.raises(ValueError, match="illegal"):
        check_category_map({"fraud": ("illegal",)})
    with pytest.raises(ValueError, match="illegal"):
        create_app(FakeBackend("fake", {}), category_map={"fraud": ["illegal"]})
