"""``valign data``: the commands, and one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.cli import main


def test_audit_filter_build_commands(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "audit",
                str(corpus_file),
                "--out",
                str(out),
                "--guard",
                "none",
                "--workers",
                "1",
            ]
        )
    assert exc.value.code in (0, None)
    assert (out / "datasheet.md").is_file() and (out / "datasheet.html").is_file()
    new = tmp_path / "new"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "filter",
                str(corpus_file),
                "--policy",
                "default",
                "--audit",
                str(out),
                "--out",
                str(new),
            ]
        )
    assert exc.value.code in (0, None)
    assert (new / "corpus.jsonl").is_file() and (new / "removed.jsonl").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["data", "build", "--out", str(tmp_path / "sets")])
    assert exc.value.code in (0, None)
    assert (tmp_path / "sets" / "README.md").is_file()


def test_user_mistakes_exit_2(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "audit",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path / "a"),
                "--guard",
                "none",
            ]
        )
    assert exc.value.code == 2
    assert "corpus not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "filter",
                str(corpus_file),
                "--policy",
                "nope",
                "--out",
                str(tmp_path / "b"),
                "--audit",
                str(tmp_path),
            ]
        )
    assert exc.value.code == 2


def test_unknown_engine_exits_2(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["data", "audit", str(corpus_file), "--out", str(tmp_path), "--engine", "spark"])
    assert exc.value.code == 2
    assert "--engine must be 'local' or 'datatrove'" in capsys.readouterr().err
