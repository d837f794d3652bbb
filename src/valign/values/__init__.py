"""Constitutions: the written statement of values that drives every stage.

A :class:`Constitution` is a data file (YAML) with a harm taxonomy (:class:`Category`) and
principles (:class:`Principle`) that refer to it; :class:`Overlay` files adapt it to a
region, community or organisation, and :func:`compose` applies them with explicit
precedence. See ``docs/constitutions.md``.
"""

from valign.values.compose import compose
from valign.values.errors import ConstitutionError
from valign.values.load import (
    bundled_constitutions,
    bundled_overlays,
    dump_constitution,
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
    "load_constitution",
    "load_file",
    "load_overlay",
    "write_constitution",
]
