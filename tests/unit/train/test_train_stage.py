"""The demo's cai stage on the tiny world: RLAIF from the SFT model, then its column in
the side-by-side scorecard and its report section."""

from __future__ import annotations

import io
import json
from functools import partial
from pathlib import Path

import pytest
from rich.console import Console

from valign.cai.evaluator import EvaluatorSettings
from valign.cai.sampling import SamplingSettings
from valign.cai.settings import CAISettings
from valign.pipeline import DemoConfig
from valign.records.runs import RunDir, manifest
from valign.report import render_report
from valign.stage import StageContext
from valign.train.dpo import DPOSettings
from valign.train.rl import RLSettings
from valign.train.stage import cai_stage, eval_aligned_stage

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, world: Path, sft_model: Path) -> RunDir:
    """A run folder whose world and finished SFT stage are the tiny fixtures."""
    run = RunDir(tmp_path / "run")
    run.root.mkdir(parents=True)
    (run.root / "world").symlink_to(world)
    run.stage("sft")
    (run.stage_path("sft") / "model").symlink_to(sft_model)
    run.mark_done("sft", manifest("sft", {}, 0), {})
    return run


def _cfg(method: str) -> DemoConfig:
    return DemoConfig(
        cai=True,
        eval_limit=6,
        eval_batch_size=8,
        rlaif=CAISettings(
            seed_size=8,
            prompts=4,
            method=method,  # type: ignore[arg-type]
            evaluator=EvaluatorSettings(epochs=3, hidden=16),
            sampling=SamplingSettings(n=2, max_new_tokens=8),
            min_confidence=0.5,
            dpo=DPOSettings(max_steps=1, batch_size=2, threads=1),
            rl=RLSettings(
                max_steps=1, batch_size=4, num_generations=2, max_completion_length=8, threads=1
            ),
        ),
    )


@pytest.mark.parametrize("method", ["dpo", "direct"])
def test_cai_stage_beside_rlhf_on_the_scorecard(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path, method: str
) -> None:
    run = _run(tmp_path, tiny_world, tiny_base_model_dir)
    cfg = _cfg(method)
    console = Console(file=io.StringIO())
    summary = run.run_stage("cai", cfg, 0, partial(cai_stage, StageContext.of(run, cfg, console)))
    cai = run.stage_path("cai")
    assert (cai / "model" / "config.json").is_file()
    assert (cai / "evaluator" / "evaluator.json").is_file()
    assert summary["method"] == method and summary["prompts"] > 0
    assert summary["agreement"]["overall"]["n"] > 0  # held out: the comparisons after the seed
    if method == "dpo":
        labels = (cai / "labels.jsonl").read_text().splitlines()
        assert summary["labels"] == len(labels) >= summary["labels_kept"] > 0
        assert all(json.loads(line)["source"] == "ai" for line in labels)
    assert summary["report"]["title"] == "RL from AI feedback (Constitutional AI)"

    ctx = StageContext.of(run, cfg, console)
    aligned = run.run_stage("eval_aligned", cfg, 0, partial(eval_aligned_stage, ctx))
    assert list(aligned["scorecards"]) == ["base", "sft", "cai"]  # no RLHF model in this run
    assert aligned["scorecards"]["cai"]["n_items"] == 6
    header = aligned["report"]["tables"][0]["columns"]
    assert header[-2:] == ["SFT", "SFT + RLAIF"]
    html = render_report(run.root).read_text(encoding="utf-8")
    assert "RL from AI feedback" in html and "SFT + RLAIF" in html


def test_cai_stage_resumes_without_retraining(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(tmp_path, tiny_world, tiny_base_model_dir)
    cfg = _cfg("dpo")
    console = Console(file=io.StringIO())
    cai_stage(StageContext.of(run, cfg, console))  # killed before DONE.json: the stage runs again

    def must_not_run(*args: object, **kw: object) -> None:
        raise AssertionError("a finished phase ran again")

    from valign.cai import pipeline, rlaif

    monkeypatch.setattr(pipeline, "fit_evaluator", must_not_run)
    for name in ("rlaif_labels", "train_dpo"):
        monkeypatch.setattr(rlaif, name, must_not_run)
    again = cai_stage(StageContext.of(run, cfg, console))
    assert again["curves"] == {}  # nothing trained this time
    assert again["labels_kept"] > 0
