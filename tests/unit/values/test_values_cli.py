"""`valign values ...` through the real entry point, as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from valign.cli import main
from valign.values import Constitution, load_constitution

from .conftest import OVERLAY

Write = Callable[..., Path]


def run(*args: str) -> int:
    """Run the command; the exit code (0 when it returns normally)."""
    try:
        main(["values", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_show_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show") == 0
    out = capsys.readouterr().out
    assert "Categories (12)" in out
    assert "dangerous_autonomy" in out
    assert "be_helpful" in out


def test_show_with_overlay_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "default", "--overlay", "eu", "--json") == 0
    shown = Constitution.model_validate(json.loads(capsys.readouterr().out))
    assert "human_review_of_automated_decisions" in shown.principle_ids
    assert shown.provenance["composed"]["overlays"][0]["name"] == "European Union"


def test_validate_constitution(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", str(write())) == 0
    assert capsys.readouterr().out.strip() == "ok: 2 principles, 2 categories"


def test_validate_overlay_applies_it_to_the_base(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(OVERLAY.replace("be_kind", "be_helpful"), name="o.yaml")
    assert run("validate", str(path)) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 15 principles, 12 categories (overlay 'stricter' on 'default')")
    assert run("validate", str(write(OVERLAY, name="o.yaml")), "--base", str(write())) == 0


def test_malformed_file_is_one_line_and_exit_2(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(replace={16: "    categories: [violnce]"})
    assert run("validate", str(path)) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err
    assert "Traceback" not in captured.err
    assert f"{path}:16: principles[0].categories[0]: unknown category 'violnce'" in err


def test_overlay_that_breaks_the_base_exits_2(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(OVERLAY.replace("remove_principles: [be_kind]", "remove_categories: [privacy]"))
    assert run("validate", str(path)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "overlay 'stricter': remove_categories: principle 'respect_privacy'" in err


def test_compose_writes_a_loadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "composed.yaml"
    assert run("compose", "default", "--overlay", "eu", "--out", str(out)) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 17 principles")
    composed = load_constitution(out)
    assert composed.name == "valign default + European Union"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["composed.yaml"]


def test_compose_with_unknown_overlay_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "composed.yaml"
    assert run("compose", "default", "--overlay", "mars", "--out", str(out)) == 2
    assert "no bundled overlay named 'mars'" in capsys.readouterr().err
    assert not out.exists()


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "default" in out
    assert "eu" in out
