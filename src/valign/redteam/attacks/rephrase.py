"""Rephrasings: the same goal asked in the past tense, the future tense, or reworded.

Refusal training generalises poorly across tenses and wordings (Andriushchenko and
Flammarion 2024). The rephrasings are templates over the objective's verb phrase
(``data/rephrase.yaml``), so they are deterministic and need no model.
"""

from __future__ import annotations

from typing import Any

from valign.redteam.attacks.templates import TemplateAttack, data_file
from valign.redteam.registry import register_attack
from valign.redteam.types import Attack, AttackMeta


def _factory(name: str) -> Any:
    def make() -> Attack:
        spec = data_file("rephrase.yaml")[name]
        meta = AttackMeta(name=name, family="rephrase", goal=spec["goal"], source=spec["source"])
        return TemplateAttack(meta, tuple(spec["templates"]))

    make.__doc__ = f"The {name!r} rephrasings of valign/redteam/data/rephrase.yaml."
    return make


for _name in data_file("rephrase.yaml"):
    register_attack(_name, _factory(_name))
