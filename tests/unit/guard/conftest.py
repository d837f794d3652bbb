"""Fixtures for the guard tests: a small trained guard (seconds, no garak), fakes.

The small guard is trained once per session into a temporary folder, and the default guard
points at it (``VALIGN_GUARD``), so nothing is built in, or read from, the user's cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from guard_testkit import small_guard_dir

from valign.guard.classifier import FastClassifier
from valign.guard.refusal import RefusalDetector


@pytest.fixture(scope="session", autouse=True)
def guard_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small trained guard folder; the default guard while the guard tests run."""
    folder = small_guard_dir(tmp_path_factory.mktemp("guard") / "small")
    saved = {k: os.environ.get(k) for k in ("VALIGN_GUARD", "VALIGN_CACHE")}
    os.environ["VALIGN_GUARD"] = str(folder)
    os.environ["VALIGN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield folder
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def classifier(guard_dir: Path) -> FastClassifier:
    return FastClassifier.load(guard_dir)


@pytest.fixture(scope="session")
def detector(guard_dir: Path) -> RefusalDetector:
    return RefusalDetector.load(guard_dir)
