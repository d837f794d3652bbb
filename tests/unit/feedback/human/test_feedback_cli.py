"""``valign feedback``: the commands around the server, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from human_testkit import check_forged_forwarded_for, client_for, login, make_store, next_item

from valign.cli import main
from valign.feedback.human import Store
from valign.records.comparisons import load_comparisons


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


def _fails(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_database_faults_are_found_at_start_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served a bad database"))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "noise.db").write_bytes(b"\x93" * 4096)
    _run(capsys, "feedback", "init", "--db", str(tmp_path / "fb.db"))
    read_only = f"sqlite:///file:{tmp_path / 'fb.db'}?mode=ro&uri=true"
    for command, db, message in [
        ("init", str(tmp_path / "afile" / "fb.db"), "a file is in the way"),
        ("serve", str(tmp_path / "noise.db"), "file is not a database"),
        ("init", read_only, "attempt to write a readonly database"),
        ("serve", read_only, "attempt to write a readonly database"),
    ]:
        _fails(capsys, ["feedback", command, "--db", db], message)


def test_import_refuses_deep_nesting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(tmp_path).close()
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n")
    args = ["feedback", "import", "--project", "p1", "--in", str(deep)]
    _fails(capsys, [*args, "--db", str(tmp_path / "fb.db")], "deep.jsonl:1: nested more than 32")


def test_serve_ignores_forwarded_headers_unless_proxies_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path).close()
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    db = str(tmp_path / "fb.db")
    _run(capsys, "feedback", "serve", "--db", db)
    assert served["proxy_headers"] is False
    # what uvicorn would run, on a connection from 127.0.0.1 (a local proxy or SSH tunnel)
    config = uvicorn.Config(served["app"], proxy_headers=served["proxy_headers"])
    config.load()
    check_forged_forwarded_for(config.loaded_app)
    _run(capsys, "feedback", "serve", "--db", db, "--forwarded-allow-ips", "10.0.0.1, 10.1.0.0/16")
    assert served["app"].state.valign.settings.forwarded_allow_ips == ("10.0.0.1", "10.1.0.0/16")
    _fails(
        capsys,
        ["feedback", "serve", "--db", db, "--forwarded-allow-ips", "proxy.local"],
        "--forwarded-allow-ips: Value error, not an address or network: 'proxy.local'",
    )
