"""Compose a base constitution with overlays (a region, a community, an organisation).

Precedence rule: overlays are applied in ascending order of ``precedence``, and overlays
with equal precedence keep the order they were given in. Each overlay applies its removals,
then its overrides, then its additions. So when several overlays touch the same id, the one
with the higher precedence wins, and on a tie the one listed later wins; the same holds for
``refusal_message``.

Composition is strict about typos and lenient about layering: removing or overriding an id
that neither the base nor an earlier overlay knows is an error, and so is adding an id the
base already has (override it instead); but a later overlay may override, re-add or remove
what an earlier one set. The result is validated again, and a principle left pointing at a
category that no longer exists is blamed on the overlay that removed the category (or that
set the principle). Which overlay did what to each id is recorded in
``provenance["composed"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from valign.values.errors import ConstitutionError
from valign.values.schema import Category, Constitution, Overlay, Principle

__all__ = ["compose"]

Item = TypeVar("Item", Category, Principle)
History = dict[str, list[dict[str, str]]]


def compose(base: Constitution, overlays: Sequence[Overlay]) -> Constitution:
    """The base with every overlay applied, in precedence order (see the module docstring)."""
    if not overlays:
        return base
    ordered = sorted(overlays, key=lambda overlay: overlay.precedence)  # sorted() is stable
    previous: dict[str, Any] = dict(base.provenance.get("composed") or {})
    history: dict[str, History] = {
        "categories": {k: list(v) for k, v in previous.get("categories", {}).items()},
        "principles": {k: list(v) for k, v in previous.get("principles", {}).items()},
    }
    categories = {c.id: c for c in base.categories}
    principles = {p.id: p for p in base.principles}
    refusal_message = base.refusal_message
    for overlay in ordered:
        _apply(
            overlay,
            "categories",
            categories,
            overlay.remove_categories,
            overlay.override_categories,
            overlay.add_categories,
            history["categories"],
        )
        _apply(
            overlay,
            "principles",
            principles,
            overlay.remove_principles,
            overlay.override_principles,
            overlay.add_principles,
            history["principles"],
        )
        if overlay.refusal_message is not None:
            refusal_message = overlay.refusal_message
    _check_references(categories, principles, history)

    composed = {
        "base": previous.get("base", f"{base.name} {base.version}"),
        "overlays": [
            *previous.get("overlays", []),
            *({"name": o.name, "precedence": o.precedence} for o in ordered),
        ],
        "categories": history["categories"],
        "principles": history["principles"],
    }
    try:
        return Constitution(
            name=" + ".join([base.name, *(o.name for o in ordered)]),
            version=base.version,
            description=base.description,
            refusal_message=refusal_message,
            categories=list(categories.values()),
            principles=list(principles.values()),
            provenance={**base.provenance, "composed": composed},
        )
    except ValidationError as exc:  # pragma: no cover - _check_references catches these first
        names = ", ".join(repr(o.name) for o in ordered)
        raise ConstitutionError(f"composing overlays {names}: {exc.errors()[0]['msg']}") from None


def _apply(
    overlay: Overlay,
    kind: str,
    items: dict[str, Item],
    remove: list[str],
    override: list[Item],
    add: list[Item],
    history: History,
) -> None:
    """Apply one overlay's changes to one kind of item (categories or principles), in place."""
    noun = "category" if kind == "categories" else "principle"
    known = set(items) | set(history)  # in the base, or touched by an earlier overlay

    def fail(field: str, message: str) -> ConstitutionError:
        return ConstitutionError(f"overlay {overlay.name!r}: {field}: {message}")

    def record(item_id: str, action: str) -> None:
        history.setdefault(item_id, []).append({"overlay": overlay.name, "action": action})

    for item_id in remove:
        if item_id not in known:
            raise fail(f"remove_{kind}", f"unknown {noun} {item_id!r} (known: {_ids(items)})")
        items.pop(item_id, None)
        record(item_id, "removed")
    for item in override:
        if item.id not in known:
            raise fail(
                f"override_{kind}",
                f"unknown {noun} {item.id!r}; use add_{kind} for a new one (known: {_ids(items)})",
            )
        items[item.id] = item  # an existing id keeps its place
        record(item.id, "overridden")
    for item in add:
        if item.id in items and item.id not in history:
            raise fail(
                f"add_{kind}",
                f"{noun} {item.id!r} is already in the base; use override_{kind} to replace it",
            )
        items[item.id] = item
        record(item.id, "added")


def _check_references(
    categories: dict[str, Category],
    principles: dict[str, Principle],
    history: dict[str, History],
) -> None:
    """Every principle must still name only existing categories; blame the overlay if not."""
    for principle in principles.values():
        for category_id in principle.categories:
            if category_id in categories:
                continue
            removed = history["categories"].get(category_id)
            if removed:
                culprit = removed[-1]["overlay"]
                raise ConstitutionError(
                    f"overlay {culprit!r}: remove_categories: principle {principle.id!r} "
                    f"still refers to category {category_id!r}; remove or override that "
                    f"principle too"
                )
            changes = history["principles"].get(principle.id)
            culprit = changes[-1]["overlay"] if changes else "?"
            raise ConstitutionError(
                f"overlay {culprit!r}: principle {principle.id!r}: unknown category "
                f"{category_id!r} (known: {_ids(categories)})"
            )


def _ids(items: dict[str, Any]) -> str:
    return ", ".join(items) or "none"
