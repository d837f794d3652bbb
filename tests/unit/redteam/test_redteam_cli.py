from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valign import cli
from valign.records.comparisons import load_comparisons
from valign.records.runs import RunDir, read_records
from valign.redteam.campaign import CampaignConfig
from valign.redteam.stage import run_redteam

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    cli._mount()
    result = runner.invoke(cli.app, ["redteam", *args])
    return result.exit_code, result.output


def test_list_attacks() -> None:
    code, out = _invoke("--list-attacks")
    assert code == 0 and "crescendo" in out and "base64" in out


def test_mistakes_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in (
        ([], "no target model"),
        (["--model", "x"], "no campaign folder"),
        (["--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")], "model not found"),
        (["--model", "x", "--out", "o", "--variants", "0"], "variants"),
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(["redteam", *args])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_campaign_on_a_local_model(tiny_base_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    code, text = _invoke(
        "--model",
        str(tiny_base_model_dir),
        "--out",
        str(out),
        "--attacks",
        "roleplay,rot13,crescendo",
        "--per-intent",
        "1",
        "--variants",
        "1",
        "--detectors",
        "grader,keyword",
        "--max-new-tokens",
        "16",
    )
    assert code == 0, text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_attempts"] == len(read_records(out / "findings.jsonl")) == 39
    assert (out / "report.html").is_file()
    if summary["n_success"]:
        assert len(load_comparisons(out / "pairs.jsonl")) == summary["n_success"]

    run = RunDir(tmp_path / "run")
    settings = CampaignConfig(
        attacks=("roleplay",),
        per_intent=1,
        variants=1,
        max_new_tokens=16,
        detectors=("grader", "keyword"),
    )
    base = run_redteam(run, tiny_base_model_dir, "base", settings)
    run.mark_done("redteam_base", {}, base)
    aligned = run_redteam(run, tiny_base_model_dir, "sft", settings)
    labels = [p["label"] for p in aligned["report"]["plots"][-1]["data"]["points"]]
    assert labels == ["base", "sft"]  # the Pareto view holds every finished campaign
