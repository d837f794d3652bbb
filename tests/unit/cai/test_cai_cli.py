"""`valign cai`: train the evaluator, judge pairs with it, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _stub(monkeypatch: pytest.MonkeyPatch, target: str) -> dict[str, Any]:
    from valign.errors import UserError

    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> None:
        seen["args"] = args
        raise UserError("stubbed")

    monkeypatch.setattr(target, fake)
    return seen


def test_run_reads_config_then_typed_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _stub(monkeypatch, "valign.cai.pipeline.cai_stage")
    cfg = tmp_path / "cai.yaml"
    cfg.write_text(
        "seed_size: 50\nmethod: direct\nrl: {max_steps: 5}\nconstitution: default\n",
        encoding="utf-8",
    )
    argv = ["cai", "run", "--policy", "p", "--seed-comparisons", "org/prefs:train"]
    argv += ["--prompts", "p.jsonl", "-o", str(tmp_path / "o"), "--config", str(cfg)]
    assert _exit([*argv, "--seed", "7", "--threads", "2"]) == 2
    _, _, seed_comparisons, prompts, _, s, supervised, rlaif = seen["args"]
    assert (seed_comparisons, prompts, supervised, rlaif) == ("org/prefs:train", "p.jsonl", 1, 1)
    assert (s.seed_size, s.method, s.rl.max_steps, s.prompts) == (50, "direct", 5, 2000)
    assert s.sampling.seed == s.evaluator.seed == s.sft.seed == s.rl.seed == 7
    assert s.sft.threads == s.dpo.threads == 2
    assert s.sft.learning_rate == 3e-4  # the stage's own default, not SFTSettings'
    assert _exit([*argv, "--seed-size", "10"]) == 2
    assert seen["args"][5].seed_size == 10
    capsys.readouterr()
    assert _exit([*argv, "--seed", "prefs.jsonl"]) == 2  # --seed is a number
    assert "Usage" in capsys.readouterr().err


def test_config_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "cai.yaml"
    cfg.write_text("seed_size: 5\nsampling:\n  n: many\n", encoding="utf-8")
    argv = ["cai", "label", "--policy", "p", "--prompts", "x.jsonl", "--evaluator", "ev"]
    assert _exit([*argv, "-o", "l.jsonl", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{cfg}:3: sampling.n: " in err


def test_help_defaults_are_the_settings_defaults() -> None:
    import typer

    from valign.cai.cli import app as cai_app
    from valign.cai.settings import CAIConfig

    cfg = CAIConfig()
    expected = {
        ("evaluator", "seed_size"): cfg.seed_size,
        ("run", "seed_size"): cfg.seed_size,
        ("run", "n_prompts"): cfg.prompts,
        ("run", "threads"): cfg.sft.threads,
        ("revise", "n_revisions"): cfg.critique.n_revisions,
        ("label", "n"): cfg.sampling.n,
        ("label", "min_confidence"): cfg.min_confidence,
        ("judge", "cot"): cfg.judge.chain_of_thought,
        ("judge", "order_averaging"): cfg.judge.order_averaging,
        ("run", "seed"): cfg.sampling.seed,
        ("run", "constitution"): cfg.constitution,
    }
    group = typer.main.get_command(cai_app)
    for (command, name), value in expected.items():
        params = {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]
        assert params[name].default == value, (command, name)


def _exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return 0 if info.value.code is None else int(info.value.code)
