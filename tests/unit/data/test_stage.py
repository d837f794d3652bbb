"""The opt-in data-audit stage of the lifecycle and its report section."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from valign.data import stage
from valign.data.audit import AuditConfig
from valign.pipeline import OPTIONAL, DemoConfig
from valign.report import RunDir, render_report


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
    summary = stage.data_audit_stage(run, DemoConfig(), Console(quiet=True))
    run.mark_done("data_audit", {"stage": "data_audit"}, summary)
    assert (tmp_path / "run" / "data_audit" / "datasheet.html").is_file()
    page = render_report(tmp_path / "run").read_text()
    assert "Training data audit" in page and "Osk" in page
