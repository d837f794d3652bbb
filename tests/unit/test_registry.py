"""The one plugin registry type: lazy built-ins, decorated entries, entry-point plugins."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any

import pytest

from valign.errors import UserError
from valign.registry import Registry, resolve


def test_an_unknown_name_is_a_user_error_listing_the_known() -> None:
    reg: Registry[int] = Registry("widget", {"pi": "math:pi"})
    reg.add("one", 1)
    with pytest.raises(UserError, match=r"unknown widget 'two' \(known: one, pi\)"):
        reg.get("two")


def test_a_lazy_builtin_is_imported_on_first_use() -> None:
    sys.modules.pop("colorsys", None)
    reg: Registry[Any] = Registry("converter", {"hls": "colorsys:rgb_to_hls"})
    assert reg.names() == ["hls"] and "colorsys" not in sys.modules
    assert reg.get("hls")(1.0, 1.0, 1.0) == (0.0, 1.0, 0.0)
    assert resolve("os.path:join.__name__") == "join"


def test_register_decorates_and_refuses_a_second_entry() -> None:
    reg: Registry[Any] = Registry("judge")

    @reg.register("mine")
    def mine() -> str:
        return "mine"

    assert reg.get("mine") is mine and "mine" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.add("mine", lambda: "other")


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = metadata.EntryPoint("extra", "math:tau", "valign.widgets")
    broken = metadata.EntryPoint("broken", "no_such_module_here:x", "valign.widgets")
    shadow = metadata.EntryPoint("pi", "math:e", "valign.widgets")

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        return [plugin, shadow] if group == "valign.widgets" else [broken]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    reg: Registry[float] = Registry("widget", {"pi": "math:pi"}, group="valign.widgets")
    assert reg.names() == ["pi", "extra"]
    assert reg.get("extra") == pytest.approx(6.2831853) and reg.get("pi") == pytest.approx(3.14159)
    bad: Registry[Any] = Registry("widget", group="valign.other")
    with pytest.raises(UserError, match="widget plugin 'broken'"):
        bad.names()
