"""The filtered-corpus ablation's pieces (the stage test runs it end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.data.ablation import compare_rows, filter_rows
from valign.data.stage import run_ablation
from valign.errors import UserError


def _est(v: float) -> dict[str, float]:
    return {"value": v, "low": v - 0.1, "high": v + 0.1, "n": 10}


def test_rows_side_by_side() -> None:
    raw = {"metrics": {"aligned": _est(0.3), "harmful_compliance": _est(0.9), "helpfulness": None}}
    new = {"metrics": {"aligned": _est(0.8), "harmful_compliance": _est(0.1)}}
    rows = compare_rows(raw, new)
    assert rows[0][:2] == ["Aligned (did what the constitution asks)", "higher"]  # headline first
    assert rows[1][:2] == ["Harmful-request compliance", "lower"]
    assert rows[0][2] != rows[0][3] and rows[1][2] != rows[1][3]
    assert all(len(r) == 4 for r in rows)
    help_row = next(r for r in rows if r[0].startswith("Helpfulness"))
    assert help_row[2:] == ["—", "—"]  # missing on both sides, not an error


def test_filter_rows_name_each_rule() -> None:
    summary = {
        "input": 10,
        "removed_by_rule": {"0:drop:harm": 3, "1:dedup:dedup": 1},
        "redacted": 2,
        "swapped_in_place": 1,
        "added": 0,
        "output": 6,
    }
    rows = filter_rows(summary)
    assert ["removed by rule 0 (drop harm)", 3] in rows and rows[-1] == ["output", 6]


def test_needs_the_raw_scorecard(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="raw corpus's scorecard"):
        run_ablation(tmp_path / "c.jsonl", tmp_path / "e.jsonl", {}, tmp_path, None)
