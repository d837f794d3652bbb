"""The load test (benchmarks/feedback_load.py) on SQLite and on PostgreSQL: 50 concurrent
raters, 2,000 judgments through a real uvicorn server, each stored exactly once.

PostgreSQL comes from ``VALIGN_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and sets
it); without it the PostgreSQL case is skipped, unless ``VALIGN_REQUIRE_SERVICES=1``, when
it fails instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "feedback_load.py"


def _need(what: str) -> None:
    if os.environ.get("VALIGN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required here (VALIGN_REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} is not available")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("feedback_load", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fifty_raters_two_thousand_judgments(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        db = str(tmp_path / "load.db")
    else:
        db = os.environ.get("VALIGN_TEST_POSTGRES_URL", "")
        if not db:
            _need("PostgreSQL (VALIGN_TEST_POSTGRES_URL)")
    summary = _bench().run_load(db, raters=50, judgments=2000, overlap=2)
    print(summary)
    assert summary["errors"] == []
    assert summary["stored"] == summary["distinct_item_rater"] == 2000
    assert summary["items_with_exact_overlap"] == 1000
    assert summary["ok"]
