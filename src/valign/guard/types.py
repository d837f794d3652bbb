"""The guard's one interface: inputs, verdicts, the `GuardBackend` protocol and its registry.

A guard judges a user prompt, or a model response in the context of its prompt, against the
constitution's harm taxonomy. Every backend (the fast classifier, the LLM guard, the rules,
the cascade, third-party ones) takes a list of :class:`GuardInput` and returns one
:class:`GuardVerdict` each, in order, so callers never care which backend they hold.

Backends connect through one registry. Built-in ones register with :func:`register_backend`;
third-party packages expose a factory under the entry-point group ``valign.guard_backends``::

    [project.entry-points."valign.guard_backends"]
    my_guard = "my_package.guard:make_guard"

A factory takes keyword options (``model=`` a ChatModel for backends that need one) and
returns a backend. :func:`get_backend` resolves a name, a guard folder or a rules file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from valign.errors import UserError
from valign.registry import Registry

ENTRY_POINT_GROUP = "valign.guard_backends"
BUILTIN_MODULES = (
    "valign.guard.default",
    "valign.guard.rules",
    "valign.guard.llm",
    "valign.guard.cascade",
)
GUARD_FILE = "guard.json"
"""The config file that marks a folder as a saved guard; its ``backend`` field names the type."""


@dataclass(frozen=True)
class GuardInput:
    """What is judged: a user prompt, or a response judged in the context of its prompt."""

    prompt: str
    response: str | None = None

    @property
    def target(self) -> str:
        """Which side the verdict is about: ``"response"`` when there is one, else ``"prompt"``."""
        return "prompt" if self.response is None else "response"


@dataclass(frozen=True)
class GuardVerdict:
    """One judgement.

    Attributes:
        flagged: Whether the input is unsafe under the backend's thresholds.
        score: Probability that the input is unsafe, 0..1.
        categories: Score (0..1) per taxonomy category id, for every category the backend knows.
        flagged_categories: The categories whose score passed their own threshold (only
            when ``flagged``); may be empty for an unsafe input with no clear category,
            such as a jailbreak wrapper.
        backend: Name of the backend that decided.
        detail: Backend-specific extras (the rule that matched, whether the cascade
            escalated, the LLM's raw answer).
    """

    flagged: bool
    score: float
    categories: dict[str, float]
    flagged_categories: tuple[str, ...] = ()
    backend: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "score": self.score,
            "categories": dict(self.categories),
            "flagged_categories": list(self.flagged_categories),
            "backend": self.backend,
            "detail": dict(self.detail),
        }


@runtime_checkable
class GuardBackend(Protocol):
    """Anything that judges inputs against the taxonomy."""

    name: str
    categories: list[str]

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        """One verdict per input, in input order; an empty list for no inputs."""
        ...


BackendFactory = Callable[..., GuardBackend]


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: how to build it and what it needs."""

    name: str
    factory: BackendFactory
    needs_model: bool = False
    help: str = ""


def _plugin_spec(name: str, factory: BackendFactory) -> BackendSpec:
    """A plugin's factory as a backend: ``needs_model`` and the help from the factory."""
    needs_model = bool(getattr(factory, "needs_model", False))
    return BackendSpec(name, factory, needs_model, (factory.__doc__ or "").strip())


BACKENDS: Registry[BackendSpec] = Registry(
    "guard backend", modules=BUILTIN_MODULES, group=ENTRY_POINT_GROUP, adapt=_plugin_spec
)
"""Every guard backend by name: the built-in modules' and the installed plugins'."""


def register_backend(
    name: str, *, needs_model: bool = False, help: str = ""
) -> Callable[[BackendFactory], BackendFactory]:
    """Register a backend factory under ``name`` (decorator).

    ``needs_model`` says the factory requires ``model=`` (a :class:`~valign.models.ChatModel`).
    """

    def decorate(factory: BackendFactory) -> BackendFactory:
        BACKENDS.add(name, BackendSpec(name, factory, needs_model, help or (factory.__doc__ or "")))
        return factory

    return decorate


def registered_backends() -> dict[str, BackendSpec]:
    """Every backend: the built-in ones and those of installed plugins, by name."""
    return dict(sorted(BACKENDS.items().items()))


def saved_backend_type(path: Path) -> str:
    """The ``backend`` a saved guard folder declares in its ``guard.json``."""
    try:
        config = json.loads((path / GUARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"not a saved guard folder (no readable {GUARD_FILE}): {path}") from exc
    backend = config.get("backend") if isinstance(config, dict) else None
    if not isinstance(backend, str):
        raise UserError(f"{path / GUARD_FILE} has no 'backend' field")
    return backend


def get_backend(name_or_path: str | Path | None = None, **options: Any) -> GuardBackend:
    """The backend that ``name_or_path`` names.

    * ``None`` or ``"default"``: the default guard (the fast classifier, built on first use);
    * a registered name (``classifier``, ``rules``, ``llm``, ``cascade``, plugins);
    * ``llm:MODEL`` / ``cascade:MODEL``: the LLM guard or the cascade over any model spec that
      :func:`valign.models.load_model` accepts (a folder, a hub id, an endpoint URL);
    * a folder saved by ``valign guard train`` (its ``guard.json`` names the backend);
    * a ``.yaml``/``.yml`` file of rules.

    Keyword options go to the factory.
    """
    backends = registered_backends()
    spec = "default" if name_or_path is None else str(name_or_path).strip()
    if spec == "default":
        spec = "classifier"
    head, sep, model_spec = spec.partition(":")
    if sep and head in backends and backends[head].needs_model and "model" not in options:
        from valign.models import load_model

        return backends[head].factory(model=load_model(model_spec), **options)
    if spec in backends:
        entry = backends[spec]
        if entry.needs_model and options.get("model") is None:
            raise UserError(f"guard backend {spec!r} needs a model: use {spec}:MODEL")
        return entry.factory(**options)
    path = Path(spec).expanduser()
    if path.is_dir():
        kind = saved_backend_type(path)
        if kind not in backends:
            raise UserError(f"{path} is a saved {kind!r} guard, but no such backend is registered")
        return backends[kind].factory(path=path, **options)
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return backends["rules"].factory(path=path, **options)
    if path.exists():
        raise UserError(f"not a guard: {spec} (expected a guard folder or a rules .yaml file)")
    known = ", ".join(backends)
    raise UserError(f"unknown guard {spec!r} (known: {known}; or a guard folder or rules file)")
