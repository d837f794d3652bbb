from __future__ import annotations

import pytest

from valign.errors import UserError
from valign.redteam.registry import get_attack, register_attack, registered_attacks, resolve_attacks

FAMILIES = {"template", "encoding", "rephrase", "many_shot", "multi_turn", "generated", "iterative"}


def test_every_family_of_the_issue_is_registered() -> None:
    families = {get_attack(n).meta.family for n in registered_attacks()}
    assert families >= FAMILIES
    for name in (
        "base64",
        "rot13",
        "leetspeak",
        "homoglyph",
        "past_tense",
        "future_tense",
        "paraphrase",
        "many_shot",
        "crescendo",
        "red_lm_zero_shot",
        "red_lm_few_shot",
        "pair",
        "garak_dan",
    ):
        assert name in registered_attacks()


def test_resolve_by_name_family_default_and_all() -> None:
    assert [a.meta.name for a in resolve_attacks(["rot13"])] == ["rot13"]
    enc = {a.meta.name for a in resolve_attacks(["encoding"])}
    assert enc == {"base64", "rot13", "leetspeak", "homoglyph"}
    default = {a.meta.name for a in resolve_attacks(None)}
    assert "garak_dan" not in default and "pair" in default
    assert {a.meta.name for a in resolve_attacks(["all"])} == set(registered_attacks())
    assert [a.meta.name for a in resolve_attacks(["rot13,base64", "rot13"])] == ["rot13", "base64"]


def test_unknown_attack_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown attack or family 'nope'"):
        resolve_attacks(["nope"])
    with pytest.raises(UserError, match="unknown attack"):
        get_attack("nope")


def test_a_second_factory_under_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_attack("rot13", lambda: get_attack("base64"))


def test_a_family_selects_its_default_attacks_only() -> None:
    templates = {a.meta.name for a in resolve_attacks(["template"])}
    assert "roleplay" in templates and "garak_dan" not in templates
    assert [a.meta.name for a in resolve_attacks(["garak_dan"])] == ["garak_dan"]
