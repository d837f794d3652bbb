"""``valign feedback``: the commands around the server, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from human_testkit import client_for, login, next_item

from valign.cli import main
from valign.feedback.human import Store
from valign.feedback.preferences import load_comparisons


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "fb.db")
    assert "database ready" in _run(capsys, "feedback", "init", "--db", db)
    _run(capsys, "feedback", "user", "ana", "--password", "long-enough-1", "--db", db)
    out = _run(
        capsys,
        "feedback",
        "project",
        "h1",
        "--overlap",
        "1",
        "--gold-every",
        "0",
        "--principles",
        "be_honest",
        "--db",
        db,
    )
    assert "project h1 (pairwise) created" in out
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"id": "a", "prompt": "Hi?", "response_a": "Hello.", "response_b": "No."}) + "\n"
    )
    assert "imported 1 items" in _run(
        capsys, "feedback", "import", "--project", "h1", "--in", str(items), "--db", db
    )
    store = Store(db)
    c = client_for(store)
    csrf = login(c, "ana", "long-enough-1")
    loc = next_item(c, "h1")
    assert loc is not None
    c.post(loc, data={"csrf": csrf, "choice": "left"})
    assert "h1 (pairwise): 1 items" in _run(
        capsys, "feedback", "stats", "--project", "h1", "--db", db
    )
    _run(capsys, "feedback", "export", "--project", "h1", "--out", str(tmp_path / "x"), "--db", db)
    rows = load_comparisons(tmp_path / "x" / "comparisons.jsonl")
    assert len(rows) == 1 and rows[0].rater == "ana"


def test_mistakes_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "fb.db")
    for args, message in [
        (["feedback", "project", "h1", "--principles", "nope", "--db", db], "unknown principle"),
        (
            ["feedback", "import", "--project", "zz", "--in", "missing.jsonl", "--db", db],
            "no project",
        ),
        (["feedback", "user", "ana", "--password", "short", "--db", db], "at least 8"),
        (
            ["feedback", "export", "--project", "h1", "--out", "x", "--mode", "odd", "--db", db],
            "--mode",
        ),
    ]:
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        assert message in capsys.readouterr().err
