"""Lazy package faces: a package's public names, each imported on first use (PEP 562).

A package's ``__init__`` says what it offers and which module defines each name, and imports
none of them: ``import valign.guard`` is free, and ``from valign.guard import RuleGuard``
imports ``valign.guard.rules`` only, not the torch that the classifier needs. So a command
that never touches a model (``valign --help``, ``valign values show``) never pays for one.
Type checkers and IDEs read the same names from the face's ``if TYPE_CHECKING:`` imports,
and do not see the hook (so a misspelt name stays an error for them)::

    if TYPE_CHECKING:
        from valign.world.grader import Grade, grade

    __all__ = ["Grade", "grade"]

    if not TYPE_CHECKING:
        __getattr__, __dir__ = lazy_face(__name__, __all__, {"grader": ["Grade", "grade"]})
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from types import ModuleType
from typing import Any

__all__ = ["lazy_face"]


class _Face(ModuleType):
    """A package with a public name that is also one of its modules (``compose`` in
    ``valign.values.compose``). Importing that module sets the package's attribute to the
    module; this keeps the name bound to what the module defines, as an eager face did."""

    def __setattr__(self, name: str, value: Any) -> None:
        shadowed = self.__dict__.get("__shadowed__", ())
        if name in shadowed and isinstance(value, ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_face(
    package: str, names: Iterable[str], where: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package ``package`` (its ``__name__``),
    whose public ``names`` (its ``__all__``) are defined by its modules as ``where`` says
    (module name relative to the package -> the names it defines)."""
    home = {name: module for module, defined in where.items() for name in defined}
    if sorted(home) != sorted(names):
        raise ValueError(f"{package}: __all__ and the names placed in modules differ")
    face = sys.modules[package]
    shadowed = frozenset(name for name, module in home.items() if name == module)
    if shadowed:
        face.__dict__["__shadowed__"] = shadowed
        face.__class__ = _Face

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(face, name, value)  # the next lookup finds it without this hook
        return value

    def __dir__() -> list[str]:
        return sorted(set(face.__dict__) | set(home))

    return __getattr__, __dir__
