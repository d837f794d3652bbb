"""The `valign` command through its entry point: exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from valign.cli import main
from valign.errors import UserError
from valign.records.tasks import load_items

KINDS6 = ("benign", "harmful", "borderline", "jailbreak", "misconception", "bias")


def _run(argv: list[str]) -> int:
    """Exit code of `valign argv` (click exits 0 on success)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    code = info.value.code
    return 0 if code is None else int(code)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def six_tasks(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid task file: the first evaluation item of six kinds."""
    lines = (tiny_world / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    picked: dict[str, str] = {}
    for line in lines:
        picked.setdefault(json.loads(line)["kind"], line)
    path = tmp_path_factory.mktemp("tasks") / "six.jsonl"
    path.write_text("".join(picked[k] + "\n" for k in KINDS6), encoding="utf-8")
    return path


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "eval", "world", "values"):
        assert command in out


def test_no_arguments_shows_help() -> None:
    assert _run([]) in (0, 2)  # click's no_args_is_help


def test_eval_missing_model_folder(six_tasks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["eval", "--model", "/does/not/exist", "--tasks", str(six_tasks)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "model not found" in line
    assert "/does/not/exist" in line


def test_eval_missing_model_with_default_tasks(
    six_tasks: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default split is the microworld's; stand in a small one rather than build it.
    monkeypatch.setattr(
        "valign.evals.run.microworld_eval_items", lambda seed=0: load_items(six_tasks)
    )
    assert _run(["eval", "--model", "/does/not/exist"]) == 2
    assert "model not found" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"id": "x", "kind": "benign", "messages": [', "not valid JSON"),
        ('{"id": "x", "kind": "benign"}', "messages"),
        ('{"id": "x", "kind": "gossip", "messages": [{"role": "user", "content": "hi"}]}', "kind"),
    ],
    ids=["json", "missing-field", "bad-kind"],
)
def test_eval_malformed_tasks_names_file_and_line(
    six_tasks: Path,
    tiny_base_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bad: str,
    why: str,
) -> None:
    good = six_tasks.read_text(encoding="utf-8").splitlines()[:2]
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(f"{good[0]}\n{good[1]}\n{bad}\n", encoding="utf-8")
    argv = ["eval", "--model", str(tiny_base_model_dir), "--tasks", str(tasks)]
    assert _run([*argv, "--out", str(tmp_path / "out")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{tasks}:3:" in line
    assert why in line
    assert not (tmp_path / "out").exists()  # validated before anything was written


def test_eval_missing_task_file(
    tiny_base_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--model", str(tiny_base_model_dir), "--tasks", "/does/not/tasks.jsonl"]
    assert _run(argv) == 2
    assert "task file not found" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("odd", ["run[b]", "run[/]"], ids=["tag", "closing-tag"])
def test_error_message_is_printed_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], odd: str
) -> None:
    tasks = tmp_path / odd / "tasks.jsonl"
    assert _run(["eval", "--model", "/does/not/exist", "--tasks", str(tasks)]) == 2
    assert str(tasks) in _one_line(capsys.readouterr().err)


def test_eval_small_task_file_writes_scorecard(
    six_tasks: Path, tiny_base_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(tiny_base_model_dir), "--tasks", str(six_tasks)]
    assert _run([*argv, "--out", str(out), "--batch-size", "8", "--max-new-tokens", "16"]) == 0
    card = json.loads((out / "scorecard.json").read_text())
    assert card["n_items"] == 6
    assert card["counts"] == dict.fromkeys(sorted(KINDS6), 1)
    records = [json.loads(x) for x in (out / "responses.jsonl").read_text().splitlines()]
    expected = [json.loads(x)["id"] for x in six_tasks.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(expected)
    assert all(isinstance(r["response"], str) and r["outcome"] for r in records)
    assert (out / "manifest.json").is_file()
    stdout = capsys.readouterr().out
    assert "wrote" in stdout
    assert "Harmful" in stdout


def test_demo_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert _run(["demo", "--config", str(missing), "--out", str(tmp_path / "run")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "config file not found" in line and str(missing) in line
    assert not (tmp_path / "run").exists()


def test_demo_config_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "demo.yaml"
    cfg.write_text("seed: 1\nmax_stepz: 3\n", encoding="utf-8")
    assert _run(["demo", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(cfg) in line and "max_stepz" in line
    assert not (tmp_path / "run").exists()


def test_demo_bad_option_value_is_a_usage_error(tmp_path: Path) -> None:
    assert _run(["demo", "--seed", "many", "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def test_demo_invalid_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "demo.yaml"
    cfg.write_text("seed: [1, 2\n", encoding="utf-8")
    assert _run(["demo", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "not valid YAML" in _one_line(capsys.readouterr().err)


def test_world_build_requires_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["world", "build"]) == 2
    assert "--out" in capsys.readouterr().err


def test_world_build_writes_splits(tmp_path: Path) -> None:
    out = tmp_path / "world"
    argv = ["world", "build", "--out", str(out), "--corpus-dialogues", "20", "--eval-per-kind", "2"]
    assert _run(argv) == 0
    assert len(load_items(out / "eval.jsonl")) == 14
    for name in ("corpus.jsonl", "sft.jsonl", "preferences.jsonl", "world.json"):
        assert (out / name).is_file()


def test_unknown_command_is_a_usage_error() -> None:
    assert _run(["no-such-stage"]) == 2


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from valign import __version__

    assert _run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"valign {__version__}"


def test_verbosity_sets_the_log_level() -> None:
    import logging

    from valign.cli import setup_logging

    logger = logging.getLogger("valign")
    before = logger.level
    try:
        assert setup_logging() == logging.WARNING
        assert setup_logging(verbose=1) == logging.INFO
        assert setup_logging(verbose=5) == logging.DEBUG
        assert setup_logging(quiet=True) == logging.ERROR == logger.level
        assert sum(getattr(h, "_valign", False) for h in logger.handlers) == 1
    finally:
        logger.setLevel(before)


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--help"]) == 0
    assert "--install-completion" in capsys.readouterr().out


def test_demo_constitution_and_overlays_reach_the_run_s_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rich.console import Console

    from valign.records.runs import RunDir
    from valign.stage import StageContext
    from valign.values import compose, load_constitution, load_overlay

    seen = []
    monkeypatch.setattr("valign.pipeline.run_demo", lambda out, cfg: seen.append(cfg))
    argv = ["demo", "--out", str(tmp_path), "--constitution", "default", "--overlay", "eu"]
    assert _run(argv) == 0
    (cfg,) = seen
    assert (cfg.constitution, cfg.overlays) == ("default", ("eu",))
    ctx = StageContext.of(RunDir(tmp_path), cfg, Console())
    composed = compose(load_constitution("default"), [load_overlay("eu")])
    assert ctx.constitution == composed != load_constitution("default")


def _eval_settings(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> Any:
    """The EvalSettings `valign eval argv` would run with (the run itself is stubbed out)."""
    seen: dict[str, Any] = {}

    def fake_run_eval(settings: Any, out: Path, console: Any = None) -> None:
        seen["settings"], seen["out"] = settings, out
        raise UserError("stubbed")

    monkeypatch.setattr("valign.evals.run.run_eval", fake_run_eval)
    assert _run(["eval", *argv]) == 2
    return seen["settings"]


def test_eval_settings_come_from_config_then_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        "model: some/model\nlimit: 5\nbatch_size: 8\noverlays: [a]\nrestart: true\n",
        encoding="utf-8",
    )
    s = _eval_settings(monkeypatch, ["--config", str(cfg)])
    assert (s.model, s.limit, s.batch_size, s.overlays, s.restart) == (
        "some/model",
        5,
        8,
        ("a",),
        True,
    )
    s = _eval_settings(
        monkeypatch, ["--config", str(cfg), "--limit", "2", "--overlay", "b", "--no-restart"]
    )
    assert (s.limit, s.batch_size, s.overlays, s.restart) == (2, 8, ("b",), False)
    assert _eval_settings(monkeypatch, ["--model", "m"]).limit == 0  # the settings' default


def test_eval_config_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text("model: m\nbatch_sise: 8\n", encoding="utf-8")
    assert _run(["eval", "--config", str(cfg)]) == 2
    assert _one_line(capsys.readouterr().err).endswith(
        f"{cfg}:2: batch_sise: Extra inputs are not permitted"
    )
    cfg.write_text("limit: 3\n", encoding="utf-8")
    assert _run(["eval", "--config", str(cfg)]) == 2
    assert "model: required" in _one_line(capsys.readouterr().err)


def test_short_o_always_means_out() -> None:
    import typer

    from valign import cli

    cli._mount()

    def commands(command: Any, path: str) -> Any:
        subs = getattr(command, "commands", None)
        if not subs:
            yield path, command
        for name, sub in (subs or {}).items():
            yield from commands(sub, f"{path} {name}".strip())

    for path, command in commands(typer.main.get_command(cli.app), ""):
        for param in command.params:
            if "-o" in param.opts:
                assert "--out" in param.opts, f"{path}: -o is {param.opts}"
            if "--out" in param.opts:
                assert "-o" in param.opts, f"{path}: --out has no -o"
