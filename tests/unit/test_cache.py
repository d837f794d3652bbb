"""The user cache: ``$VALIGN_CACHE``, else ``~/.cache/valign``."""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.cache import cache_dir


def test_the_cache_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VALIGN_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VALIGN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "valign"
