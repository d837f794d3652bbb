"""`valign cai`: train the evaluator, judge pairs with it, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from valign.cli import app, main
from valign.records.comparisons import load_comparisons


def test_evaluator_then_judge(tiny_world: Path, tmp_path: Path) -> None:
    from valign.cli import _mount

    _mount()
    runner = CliRunner()
    prefs = tiny_world / "preferences.jsonl"
    result = runner.invoke(
        app, ["cai", "evaluator", str(prefs), "--out", str(tmp_path / "ev"), "--seed-size", "6"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev" / "evaluator.json").is_file()
    assert "held-out" in result.output
    out = tmp_path / "labels.jsonl"
    result = runner.invoke(
        app,
        ["cai", "judge", str(prefs), "--evaluator", str(tmp_path / "ev"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = load_comparisons(out)
    assert len(rows) == len(load_comparisons(prefs))
    assert all(r.source == "ai" and r.p_chosen is not None and r.principles for r in rows)


def test_judge_needs_one_judge(tiny_world: Path, tmp_path: Path, capsys) -> None:
    prefs = tiny_world / "preferences.jsonl"
    with pytest.raises(SystemExit) as exc:
        main(["cai", "judge", str(prefs), "--out", str(tmp_path / "x.jsonl")])
    assert exc.value.code == 2
    assert "exactly one of --model and --evaluator" in capsys.readouterr().err
