"""Fixtures for the rating app's tests: a SQLite database with accounts and a project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from human_testkit import make_store

from valign.feedback.human import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = make_store(tmp_path)
    yield s
    s.close()
