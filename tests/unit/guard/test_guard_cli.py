"""`valign guard ...` commands (the Typer app that the top-level CLI mounts as `guard`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from guard_testkit import stub_train_guard
from typer.testing import CliRunner

from valign.errors import UserError
from valign.guard import cli
from valign.guard.cli import app

runner = CliRunner()


def test_classify_and_refusal_commands(tmp_path: Path, guard_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"prompt": "What is 2 plus 2?", "response": "4", "id": 7}) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["classify", "--in", str(src), "--out", str(out), "--guard", str(guard_dir)]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["id"] == 7 and {"flagged", "score", "categories"} <= set(row)
    result = runner.invoke(app, ["refusal", "--in", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["refusal"] is False and "refusal_score" in row
    assert row["attempt"] == "attempted" and row["refusal_kind"] == "none"


def test_mistakes_raise_user_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", "--in", str(tmp_path / "nope.jsonl"), "--out", "x"])
    assert isinstance(result.exception, UserError)
    assert "input file not found" in str(result.exception)
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "a"}\n', encoding="utf-8")
    result = runner.invoke(app, ["classify", "--in", str(src), "--out", "x", "--guard", "nope"])
    assert isinstance(result.exception, UserError) and "unknown guard" in str(result.exception)
    result = runner.invoke(
        app, ["refusal", "--in", str(src), "--out", "x", "--detector", "missing"]
    )
    assert isinstance(result.exception, UserError)
    result = runner.invoke(app, ["train", "--replies", str(tmp_path / "no-replies")])
    assert isinstance(result.exception, UserError)
    assert "not a folder of real replies" in str(result.exception)


def test_backends_lists_the_registry() -> None:
    result = runner.invoke(app, ["backends"])
    assert result.exit_code == 0
    for name in ("classifier", "rules", "llm", "cascade"):
        assert name in result.output


def test_train_writes_the_folder_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = stub_train_guard(monkeypatch, {"prompt": {"f1": 0.5}})
    target = tmp_path / "g"
    result = runner.invoke(
        app, ["train", "--out", str(target), "--no-garak", "--target-fpr", "0.05"]
    )
    assert result.exit_code == 0, result.output
    assert (target / "guard.json").is_file() and not (tmp_path / "g.partial").exists()
    assert seen["config"].use_garak is False and seen["config"].target_fpr == 0.05


def test_module_entry_point_prints_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "sys.argv", ["valign guard", "classify", "--in", "/nonexistent.jsonl", "--out", "x"]
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    assert "input file not found" in capsys.readouterr().err


def test_serve_maps_categories_with_the_guards_constitution(
    monkeypatch: pytest.MonkeyPatch, guard_dir: Path, tmp_path: Path
) -> None:
    import valign.guard.server as server

    seen: dict[str, Any] = {}
    monkeypatch.setattr(server, "serve", lambda *args, **kw: seen.update(kw))
    result = runner.invoke(app, ["serve", "--guard", str(guard_dir)])
    assert result.exit_code == 0, result.output
    assert seen["category_map"]["fraud"] == ("illicit",)  # the default constitution's
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "name: mine\nversion: '1'\ndescription: d\nrefusal_message: Sorry.\nprinciples: []\n"
        "categories:\n  - {id: fraud, name: Fraud, description: d, openai_moderation: [hate]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["serve", "--guard", str(guard_dir), "--constitution", str(mine)])
    assert result.exit_code == 0, result.output
    assert seen["category_map"] == {"fraud": ("hate",)}


def test_train_reads_config_then_typed_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = stub_train_guard(monkeypatch)
    cfg = tmp_path / "guard.yaml"
    cfg.write_text(
        "use_garak: false\nseed: 3\ntarget_fpr: 0.02\nhead:\n  epochs: 5\n", encoding="utf-8"
    )
    target = str(tmp_path / "g")
    result = runner.invoke(app, ["train", "-o", target, "--config", str(cfg), "--seed", "9"])
    assert result.exit_code == 0, result.output
    c = seen["config"]
    # typed --seed wins; the file's values stand where no option was typed
    assert (c.seed, c.use_garak, c.target_fpr, c.head.epochs) == (9, False, 0.02, 5)
    cfg.write_text("seed: 1\nhead:\n  epoks: 5\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "-o", target, "--config", str(cfg)])
    assert isinstance(result.exception, UserError)
    assert str(result.exception) == f"{cfg}:3: head.epoks: not a setting"


def test_serve_reads_config_then_typed_options(
    monkeypatch: pytest.MonkeyPatch, guard_dir: Path, tmp_path: Path
) -> None:
    import valign.guard.server as server

    seen: dict[str, Any] = {}
    monkeypatch.setattr(server, "serve", lambda *args, **kw: seen.update(args=args))
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(
        f"guard: {guard_dir}\nport: 9000\nmax_inputs: 10\nbatch_size: 8\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["serve", "--config", str(cfg), "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    _, _, host, port, settings = seen["args"]
    assert (host, port, settings.max_inputs, settings.batch_size) == ("127.0.0.1", 9000, 10, 4)
    cfg.write_text("port: many\n", encoding="utf-8")
    result = runner.invoke(app, ["serve", "--config", str(cfg)])
    assert isinstance(result.exception, UserError)
    assert str(result.exception).startswith(f"{cfg}:1: port: ")


def test_classify_reads_its_config(tmp_path: Path, guard_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "What is 2 plus 2?"}\n', encoding="utf-8")
    cfg = tmp_path / "classify.yaml"
    cfg.write_text(f"guard: {guard_dir}\nbatch_size: 2\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["classify", "--in", str(src), "-o", str(out), "--config", str(cfg)]
    )
    assert result.exit_code == 0, result.output
    assert "flagged" in json.loads(out.read_text(encoding="utf-8"))
    cfg.write_text("guard: nope\n", encoding="utf-8")
    result = runner.invoke(
        app, ["classify", "--in", str(src), "-o", str(out), "--config", str(cfg)]
    )
    assert isinstance(result.exception, UserError) and "unknown guard" in str(result.exception)


def test_help_defaults_are_the_settings_defaults() -> None:
    import dataclasses

    import typer

    from valign.guard.build import TrainConfig
    from valign.guard.server_settings import GuardServeConfig

    group = typer.main.get_command(app)
    renames = {"garak": "use_garak"}
    for command, settings in (
        ("classify", cli.ClassifySettings()),
        ("refusal", cli.RefusalSettings()),
        ("replies", cli.RepliesSettings()),
        ("train", TrainConfig()),
        ("serve", GuardServeConfig()),
    ):
        values = (
            dataclasses.asdict(settings)
            if dataclasses.is_dataclass(settings)
            else settings.model_dump()  # type: ignore[union-attr]
        )
        for param in group.commands[command].params:  # type: ignore[attr-defined]
            key = renames.get(param.name or "", param.name or "")
            if key in values and values[key] is not None and not isinstance(values[key], tuple):
                assert param.default == values[key], (command, param.name)
