"""The opt-in data stages of the lifecycle (audit, ablation) and their report sections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from valign.data import stage
from valign.data.audit import AuditConfig
from valign.errors import UserError
from valign.pipeline import OPTIONAL, DemoConfig
from valign.records.runs import RunDir
from valign.report import render_report
from valign.stage import StageContext

if TYPE_CHECKING:
    from valign.train.pretrain import PretrainConfig


def test_stage_is_off_by_default_and_reports(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not OPTIONAL["data_audit"](DemoConfig())
    assert OPTIONAL["data_audit"](DemoConfig(data_audit=True))
    monkeypatch.setattr(
        stage, "STAGE_CONFIG", AuditConfig(guard=None, workers=1, pmi_min=2, min_count=10)
    )
    run = RunDir(tmp_path / "run")
    shutil.copy(corpus_file, run.stage("world") / "corpus.jsonl")
    summary = stage.data_audit_stage(StageContext.of(run, DemoConfig(), Console(quiet=True)))
    run.mark_done("data_audit", {"stage": "data_audit"}, summary)
    assert (tmp_path / "run" / "data_audit" / "datasheet.html").is_file()
    page = render_report(tmp_path / "run").read_text()
    assert "Training data audit" in page and "Osk" in page


@pytest.mark.slow
def test_ablation_stage_pretrains_on_the_filtered_corpus_and_reports(
    tiny_world: Path,
    tiny_base_model_dir: Path,
    tiny_pretrain_config: PretrainConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from valign.evals.stage import eval_base_stage

    assert not OPTIONAL["data_ablation"](DemoConfig())
    assert OPTIONAL["data_ablation"](DemoConfig(data_ablation=True))
    rules = tmp_path / "rules.yaml"
    rules.write_text("deny:\n  - pattern: 'STEP-1'\n    category: nonviolent_crime\n")
    monkeypatch.setattr(stage, "STAGE_CONFIG", AuditConfig(guard=str(rules), workers=1))
    cfg = DemoConfig(pretrain=tiny_pretrain_config, eval_limit=40, data_ablation=True)
    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_world, run.stage("world"), dirs_exist_ok=True)
    shutil.copytree(tiny_base_model_dir, run.stage("pretrain") / "model")
    console = Console(quiet=True)
    with pytest.raises(UserError, match="eval_base is not done"):
        stage.data_ablation_stage(StageContext.of(run, cfg, console))
    ctx = StageContext.of(run, cfg, console)
    run.run_stage("eval_base", cfg, 0, lambda: eval_base_stage(ctx))
    summary = run.run_stage("data_ablation", cfg, 0, lambda: stage.data_ablation_stage(ctx))
    out = tmp_path / "run" / "data_ablation"
    assert (out / "clean" / "model" / "config.json").is_file()
    assert (out / "clean" / "eval" / "scorecard.json").is_file()
    assert summary["filter"]["accounted"] and summary["filter"]["removed"] > 0
    assert summary["pretrain"]["steps"] == tiny_pretrain_config.max_steps
    assert [r[0] for r in summary["rows"]][:3] == [
        "Aligned (did what the constitution asks)",
        "Harmful-request compliance",
        "Jailbreak attack success",
    ]
    raw = (out.parent / "eval_base" / "scorecard.json").read_text()
    assert json.loads(raw)["metrics"] == summary["raw"]
    page = render_report(tmp_path / "run").read_text()
    assert "raw against filtered corpus" in page and "filtered corpus" in page
