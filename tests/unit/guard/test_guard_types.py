"""The backend registry: built-ins, plugins through entry points, and name resolution."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from guard_testkit import FakeBackend, FakeChatModel

from valign.errors import UserError
from valign.guard import types
from valign.guard.cascade import CascadeGuard
from valign.guard.classifier import FastClassifier
from valign.guard.llm import LLMGuard
from valign.guard.rules import RuleGuard
from valign.guard.types import GuardInput, get_backend, register_backend, registered_backends
from valign.registry import Registry


def test_builtin_backends_are_registered() -> None:
    backends = registered_backends()
    assert {"classifier", "rules", "llm", "cascade"} <= set(backends)
    assert backends["llm"].needs_model and backends["cascade"].needs_model
    assert not backends["classifier"].needs_model and not backends["rules"].needs_model


def test_input_target() -> None:
    assert GuardInput("hi").target == "prompt"
    assert GuardInput("hi", "hello").target == "response"


def test_resolves_names_folders_and_rule_files(guard_dir: Path, tmp_path: Path) -> None:
    assert isinstance(get_backend(), FastClassifier)  # the default guard
    assert isinstance(get_backend("default"), FastClassifier)
    assert isinstance(get_backend(guard_dir), FastClassifier)
    assert isinstance(get_backend("rules"), RuleGuard)
    rules = tmp_path / "rules.yaml"
    rules.write_text("deny:\n  - pattern: forbidden\n", encoding="utf-8")
    guard = get_backend(rules)
    assert isinstance(guard, RuleGuard)
    assert guard.classify([GuardInput("a forbidden word")])[0].flagged
    model = FakeChatModel(logprob=lambda prompt, k: -1.0)
    assert isinstance(get_backend("llm", model=model), LLMGuard)
    assert isinstance(get_backend("cascade", model=model), CascadeGuard)


def test_mistakes_are_one_line_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown guard 'nope'"):
        get_backend("nope")
    with pytest.raises(UserError, match="needs a model"):
        get_backend("llm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a saved guard folder"):
        get_backend(tmp_path / "empty")
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="not a guard"):
        get_backend(other)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "guard.json").write_text('{"backend": "martian"}', encoding="utf-8")
    with pytest.raises(UserError, match="no such backend is registered"):
        get_backend(tmp_path / "odd")


def _fresh_registry() -> Registry[types.BackendSpec]:
    """A backend registry of no built-ins whose plugins are not read yet."""
    return Registry("guard backend", group=types.ENTRY_POINT_GROUP, adapt=types._plugin_spec)


def test_register_twice_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(types, "BACKENDS", Registry("guard backend"))

    def make(**_: Any) -> FakeBackend:
        return FakeBackend("twice", {})

    register_backend("test-twice")(make)
    register_backend("test-twice")(make)  # the same factory again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_backend("test-twice")(lambda **_: FakeBackend("other", {}))


def test_plugins_load_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def make_plugin(**_: Any) -> FakeBackend:
        """A plugin guard."""
        return FakeBackend("plugin", {"bad": 1.0})

    class FakeEntryPoint:
        name, value = "my-plugin", "plugin_module:make_plugin"

        def load(self) -> Any:
            return make_plugin

    def entry_points(group: str) -> list[Any]:
        return [FakeEntryPoint()] if group == types.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    monkeypatch.setattr(types, "BACKENDS", _fresh_registry())
    assert registered_backends()["my-plugin"].help == "A plugin guard."
    guard = get_backend("my-plugin")
    assert guard.classify([GuardInput("bad")])[0].flagged


def test_a_broken_plugin_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        name, value = "broken", "missing_module:factory"

        def load(self) -> Any:
            raise ImportError("No module named 'missing_module'")

    monkeypatch.setattr(metadata, "entry_points", lambda group: [Broken()])
    monkeypatch.setattr(types, "BACKENDS", _fresh_registry())
    with pytest.raises(UserError, match=r"plugin 'broken'.*failed to load"):
        registered_backends()
