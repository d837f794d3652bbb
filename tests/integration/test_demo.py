"""`run_demo` end to end on a tiny microworld: every stage, the report, skipping finished
stages, and resuming an interrupted evaluation from its last recorded item."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from valign.evals.scorecard import METRIC_TITLES
from valign.models.hf import HFChatModel
from valign.pipeline import DemoConfig, run_demo
from valign.train.align import AlignConfig
from valign.train.pretrain import PretrainConfig

pytestmark = pytest.mark.slow

STAGE_NAMES = ("world", "pretrain", "eval_base", "sft", "reward", "cost", "rl", "eval_aligned")
TINY_TRAIN = {"batch_size": 4, "max_steps": 2, "bf16": False}
EVAL_PER_KIND = 6
N_ITEMS = 7 * EVAL_PER_KIND  # seven kinds


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, force_terminal=False), buf


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo_cfg(tiny_pretrain_config: PretrainConfig) -> DemoConfig:
    return DemoConfig(
        pretrain=tiny_pretrain_config,
        corpus_dialogues=800,
        eval_per_kind=EVAL_PER_KIND,
        eval_batch_size=16,
        guard=False,  # the guard's stage has its own tests (tests/unit/guard)
        align=AlignConfig.model_validate(
            {
                "sft": TINY_TRAIN,
                "reward": TINY_TRAIN,
                "cost": TINY_TRAIN,
                "rl": {
                    **TINY_TRAIN,
                    "num_generations": 2,
                    "max_completion_length": 8,
                    "safety": {"rule_weight": 0},  # the rules need the guard (built elsewhere)
                },
            }
        ),
    )


@pytest.fixture(scope="module")
def demo_run(demo_cfg: DemoConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    console, _ = _console()
    report = run_demo(out, demo_cfg, console)
    assert report == out / "report.html"
    return out


def test_every_stage_done(demo_run: Path) -> None:
    for name in STAGE_NAMES:
        done = json.loads((demo_run / name / "DONE.json").read_text())
        assert isinstance(done, dict)
        assert (demo_run / name / "manifest.json").is_file()
    assert (demo_run / "pretrain" / "model" / "config.json").is_file()
    assert (demo_run / "world" / "eval.jsonl").is_file()


def test_report(demo_run: Path) -> None:
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    assert "Scorecard" in html
    assert "<svg" in html
    assert "Base model pretraining" in html
    for title in ("Supervised fine-tuning", "Online RL with a safety signal", "after alignment"):
        assert title in html
    aligned = json.loads((demo_run / "eval_aligned" / "DONE.json").read_text())["summary"]
    assert set(aligned["scorecards"]) == {"base", "sft", "rl"}


def test_scorecard_has_every_headline_metric(demo_run: Path) -> None:
    card = json.loads((demo_run / "eval_base" / "scorecard.json").read_text())
    assert card["n_items"] == N_ITEMS
    m = card["metrics"]
    # Undefined only where no reply gave a valid answer to score (a tiny model may not).
    coverage = {
        "bias_ambiguous": "bias_coverage_ambiguous",
        "bias_disambiguated": "bias_coverage_disambiguated",
        "power_seeking": "agentic_coverage",
    }
    for key in METRIC_TITLES:
        assert key in m, key
        if m[key] is None:
            assert key in coverage and m[coverage[key]]["value"] == 0.0, key
        else:
            assert m[key]["n"] > 0, key
    assert card["model"] == str(demo_run / "pretrain" / "model")
    ids = _ids(demo_run / "eval_base" / "responses.jsonl")
    assert sorted(ids) == sorted(_ids(demo_run / "world" / "eval.jsonl"))


def test_rerun_skips_every_stage(
    demo_run: Path, demo_cfg: DemoConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*args: Any) -> dict[str, Any]:
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(
        "valign.pipeline.STAGES", tuple((name, must_not_run) for name in STAGE_NAMES)
    )
    before = {n: (demo_run / n / "DONE.json").read_bytes() for n in STAGE_NAMES}
    console, buf = _console()
    t0 = time.perf_counter()
    run_demo(demo_run, demo_cfg, console)
    assert time.perf_counter() - t0 < 10
    printed = buf.getvalue()
    for name in STAGE_NAMES:
        assert f"{name} (already done)" in printed
        assert (demo_run / name / "DONE.json").read_bytes() == before[name]


def test_interrupted_eval_resumes_from_last_item(
    demo_run: Path, demo_cfg: DemoConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = demo_run / "eval_base"
    responses = stage / "responses.jsonl"
    kept = responses.read_text(encoding="utf-8").splitlines(keepends=True)[:10]
    (stage / "DONE.json").unlink()
    responses.write_text("".join(kept), encoding="utf-8")

    generated: list[int] = []
    real_generate = HFChatModel.generate

    def counting_generate(self: HFChatModel, convs: Any, *args: Any, **kw: Any) -> Any:
        generated.append(len(convs))
        return real_generate(self, convs, *args, **kw)

    monkeypatch.setattr(HFChatModel, "generate", counting_generate)
    console, buf = _console()
    run_demo(demo_run, demo_cfg, console)

    printed = buf.getvalue()
    assert "world (already done)" in printed
    assert "pretrain (already done)" in printed
    assert "eval_base (already done)" not in printed
    assert sum(generated) == N_ITEMS - 10  # only the items without a record
    assert (stage / "DONE.json").is_file()
    text = responses.read_text(encoding="utf-8")
    assert text.startswith("".join(kept))  # the recorded items were kept as they were
    ids = _ids(responses)
    assert len(ids) == len(set(ids)) == N_ITEMS
    assert set(ids) == set(_ids(demo_run / "world" / "eval.jsonl"))
    card = json.loads((stage / "scorecard.json").read_text())
    assert card["n_items"] == N_ITEMS
