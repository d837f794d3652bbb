"""The attack registry: built-in families and third-party plugins, by name.

Built-in attacks register with :func:`register_attack` when their module is imported
(:data:`ATTACKS` imports them on first use).
Third-party packages expose a factory (no arguments, returns an :class:`Attack`) under the
entry-point group ``valign.attacks``::

    [project.entry-points."valign.attacks"]
    my_attack = "my_package.attacks:make_attack"

The contract tests (``tests/contract/test_attacks.py``) run over everything registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from valign.errors import UserError
from valign.redteam.types import Attack
from valign.registry import Registry

ENTRY_POINT_GROUP = "valign.attacks"
BUILTIN_MODULES = (
    "valign.redteam.attacks.templates",
    "valign.redteam.attacks.encoding",
    "valign.redteam.attacks.rephrase",
    "valign.redteam.attacks.many_shot",
    "valign.redteam.attacks.crescendo",
    "valign.redteam.attacks.generated",
    "valign.redteam.attacks.pair",
)

AttackFactory = Callable[[], Attack]

ATTACKS: Registry[AttackFactory] = Registry(
    "attack", modules=BUILTIN_MODULES, group=ENTRY_POINT_GROUP
)
"""Every attack factory by name: the built-in families' and the installed plugins'."""


def register_attack(name: str, factory: AttackFactory) -> AttackFactory:
    """Register ``factory`` under ``name``; a second, different factory is a mistake."""
    return ATTACKS.add(name, factory)


def registered_attacks() -> dict[str, AttackFactory]:
    """Every attack factory, built-in and from plugins, by name (sorted)."""
    return dict(sorted(ATTACKS.items().items()))


def get_attack(name: str) -> Attack:
    """A fresh instance of the attack registered as ``name``."""
    attack = ATTACKS.get(name)()
    if attack.meta.name != name:
        raise UserError(f"attack {name!r} declares the name {attack.meta.name!r}")
    return attack


def resolve_attacks(names: Iterable[str] | None) -> list[Attack]:
    """Attacks by name or family (``encoding`` selects the default encoding attacks); None
    or ``default`` selects the default campaign, ``all`` every registered attack."""
    every = [get_attack(n) for n in registered_attacks()]
    wanted = list(names or ["default"])
    chosen: dict[str, Attack] = {}
    for raw in wanted:
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name == "all":
                hits = every
            elif name == "default":
                hits = [a for a in every if a.meta.default]
            else:  # a family selects its default attacks; a name selects any attack
                hits = [a for a in every if a.meta.name == name] or [
                    a for a in every if a.meta.family == name and a.meta.default
                ]
            if not hits:
                known = sorted({a.meta.name for a in every} | {a.meta.family for a in every})
                raise UserError(f"unknown attack or family {name!r} (known: {', '.join(known)})")
            for attack in hits:
                chosen.setdefault(attack.meta.name, attack)
    return list(chosen.values())
