"""valign.settings: defaults < YAML file < command line, one-line errors with file:line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from valign.errors import UserError
from valign.settings import given, load_settings, read_yaml, settings_options


class Inner(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(10, description="Steps.")
    rate: float = Field(0.5, description="Rate.")


class Outer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="A name.")
    seed: int = Field(0, description="The seed.")
    tags: tuple[str, ...] = Field((), description="Tags (repeatable).")
    fast: bool = Field(False, description="Go fast.")
    note: str | None = Field(None, description="A note.")
    inner: Inner = Field(default_factory=Inner)


@dataclass(frozen=True)
class Head:
    hidden: int = 64


@dataclass(frozen=True)
class Plain:
    seed: int = 0
    labels: tuple[str, ...] = ()
    head: Head = field(default_factory=Head)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_then_file_then_options(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "name: a\nseed: 1\ninner:\n  steps: 3\n")
    s = load_settings(Outer, path, seed=None, **{"inner.rate": 0.1})
    assert (s.name, s.seed, s.inner.steps, s.inner.rate) == ("a", 1, 3, 0.1)
    assert load_settings(Outer, path, seed=7).seed == 7


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "name: a\ninner:\n  stepz: 3\n")
    with pytest.raises(UserError, match=rf"^{path}:3: inner\.stepz: Extra inputs"):
        load_settings(Outer, path)
    path = _yaml(tmp_path, "name: a\n\nseed: many\n")
    with pytest.raises(UserError, match=rf"^{path}:3: seed: "):
        load_settings(Outer, path)


def test_a_missing_required_field_names_the_file(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 1\n")
    hint = "required: give it as an option or in the config file"
    with pytest.raises(UserError, match=rf"^{path}: name: {hint}$"):
        load_settings(Outer, path)
    with pytest.raises(UserError, match=rf"^options: name: {hint}$"):
        load_settings(Outer, None)


def test_dataclasses_load_with_the_same_rules(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "labels: [a, b]\nhead:\n  hidden: 8\n")
    assert load_settings(Plain, path, seed=3) == Plain(3, ("a", "b"), Head(8))
    path = _yaml(tmp_path, "seed: 1\nhead:\n  hiden: 8\n")
    with pytest.raises(UserError, match=rf"^{path}:3: head\.hiden: not a setting$"):
        load_settings(Plain, path)


def test_read_yaml_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^policy file not found: "):
        read_yaml(tmp_path / "nope.yaml", "policy file")


def _app(seen: dict[str, Any]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @settings_options(Outer, names={"tags": "tag"})
    def run(overrides: dict[str, Any], config: Path | None = typer.Option(None)) -> None:
        seen.update(load_settings(Outer, config, **overrides).model_dump())

    return app


def test_settings_options_are_written_from_the_fields(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    app = _app(seen)
    help_text = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    for option in ("--name", "--seed", "--tag", "--fast", "--no-fast", "--note", "--config"):
        assert option in help_text
    assert "The seed." in help_text and "--inner" not in help_text  # nested: YAML only
    path = _yaml(tmp_path, "name: file\nseed: 4\nfast: true\ninner: {steps: 2}\n")
    result = CliRunner().invoke(app, ["--config", str(path), "--tag", "x", "--tag", "y"])
    assert result.exit_code == 0, result.output
    # untyped options keep the file's values; typed ones win
    assert (seen["name"], seen["seed"], seen["fast"], seen["tags"]) == ("file", 4, True, ("x", "y"))
    assert seen["inner"]["steps"] == 2
    CliRunner().invoke(app, ["--config", str(path), "--seed", "0", "--no-fast"])
    assert (seen["seed"], seen["fast"]) == (0, False)


def test_given_sees_only_typed_options() -> None:
    app = typer.Typer()
    seen: dict[str, Any] = {}

    @app.command()
    def run(ctx: typer.Context, a: int = typer.Option(1), b: int = typer.Option(2)) -> None:
        seen.update(given(ctx))

    CliRunner().invoke(app, ["--b", "2"])
    assert seen == {"b": 2}
