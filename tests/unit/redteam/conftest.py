"""Fixtures for valign.redteam tests (builders live in redteam_testkit.py)."""

from __future__ import annotations

import pytest
from redteam_testkit import ScriptedTarget

from valign.redteam.scoring import Scorer


@pytest.fixture
def target() -> ScriptedTarget:
    return ScriptedTarget()


@pytest.fixture
def scorer() -> Scorer:
    """Exact and keyword detectors only: no guard to build."""
    return Scorer(("grader", "keyword"))
