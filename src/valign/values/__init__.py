"""Constitutions: the written statement of values that drives every stage.

A :class:`Constitution` is a data file (YAML) with a harm taxonomy (:class:`Category`) and
principles (:class:`Principle`) that refer to it; :class:`Overlay` files adapt it to a
region, community or organisation, and :func:`compose` applies them with explicit
precedence. See ``docs/constitutions.md``.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.values.compose import compose
    from valign.values.errors import ConstitutionError
    from valign.values.load import (
        bundled_constitutions,
        bundled_overlays,
        dump_constitution,
        load_composed,
        load_constitution,
        load_file,
        load_overlay,
        write_constitution,
    )
    from valign.values.schema import Category, Constitution, Example, Overlay, Principle

__all__ = [
    "Category",
    "Constitution",
    "ConstitutionError",
    "Example",
    "Overlay",
    "Principle",
    "bundled_constitutions",
    "bundled_overlays",
    "compose",
    "dump_constitution",
    "load_composed",
    "load_constitution",
    "load_file",
    "load_overlay",
    "write_constitution",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "compose": ["compose"],
            "errors": ["ConstitutionError"],
            "load": [
                "bundled_constitutions",
                "bundled_overlays",
                "dump_constitution",
                "load_composed",
                "load_constitution",
                "load_file",
                "load_overlay",
                "write_constitution",
            ],
            "schema": ["Category", "Constitution", "Example", "Overlay", "Principle"],
        },
    )
