"""The one plugin registry type: names to factories, built in or from other packages.

Wherever plugins connect (red-team attacks, guard backends, judges, public benchmarks) a
:class:`Registry` maps names to entries. Built-ins are given as ``"module:attr"`` strings
and imported on first use, so a registry on a low layer can name an implementation on a
higher one without importing it. Built-in modules whose decorators register entries are
imported when the registry is first read. Third-party packages add entries through an
entry-point group::

    [project.entry-points."valign.judges"]
    my_judge = "my_package.judges:make_judge"

A broken plugin is a user error naming it; it never hides the built-ins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, Generic, TypeVar, cast

from valign.errors import UserError

T = TypeVar("T")


def resolve(ref: str) -> Any:
    """The object a ``"module:attr"`` (or ``"module:attr.inner"``) string names."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Entries of one kind by name: lazy built-ins, decorated ones and entry-point plugins.

    ``kind`` names the entries in messages (``"attack"``); ``builtins`` maps names to
    ``"module:attr"`` strings; ``modules`` are imported before the first read (their
    :meth:`register` decorators run); ``group`` is the entry-point group of plugins, and
    ``adapt(name, loaded)`` turns what a plugin's entry point loads into an entry (default:
    the loaded object itself). Names keep their order: built-ins, then registered ones,
    then plugins.
    """

    def __init__(
        self,
        kind: str,
        builtins: Mapping[str, str] | None = None,
        *,
        modules: Sequence[str] = (),
        group: str | None = None,
        adapt: Callable[[str, Any], T] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._lazy: dict[str, str] = dict(builtins or {})
        self._entries: dict[str, T] = {}
        self._modules = tuple(modules)
        self._adapt = adapt
        self._modules_loaded = False
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator registering its target under ``name``."""

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a second, unequal entry is a mistake."""
        if name in self._entries and self._entries[name] != entry:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def _load(self) -> None:
        if not self._modules_loaded:
            self._modules_loaded = True
            for module in self._modules:
                importlib.import_module(module)
        if self._plugins_loaded or self.group is None:
            return
        self._plugins_loaded = True
        for ep in metadata.entry_points(group=self.group):
            if ep.name in self._entries or ep.name in self._lazy:
                continue
            try:
                loaded = ep.load()
                self._entries[ep.name] = self._adapt(ep.name, loaded) if self._adapt else loaded
            except Exception as exc:  # a broken plugin must not hide the built-ins
                msg = f"{self.kind} plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
                raise UserError(msg) from exc

    def names(self) -> list[str]:
        """Every registered name, built-ins first."""
        self._load()
        return [*self._lazy, *(n for n in self._entries if n not in self._lazy)]

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name is a user error listing the known."""
        self._load()
        if name in self._lazy:
            entry = cast(T, resolve(self._lazy[name]))
            self._entries.setdefault(name, entry)
        if name not in self._entries:
            known = ", ".join(sorted(self.names()))
            raise UserError(f"unknown {self.kind} {name!r} (known: {known})")
        return self._entries[name]

    def items(self) -> dict[str, T]:
        """Every entry by name, built-ins resolved."""
        return {name: self.get(name) for name in self.names()}
