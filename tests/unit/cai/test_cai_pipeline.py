"""The whole Constitutional AI stage on the tiny world: evaluator, supervised CAI, RLAIF."""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.cai.evaluator import EvaluatorSettings
from valign.cai.pipeline import cai_stage
from valign.cai.sampling import SamplingSettings
from valign.cai.settings import CAISettings
from valign.train.dpo import DPOSettings
from valign.train.sft import SFTSettings
from valign.values import load_constitution


@pytest.mark.slow
def test_cai_stage_end_to_end(tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path) -> None:
    s = CAISettings(
        seed_size=6,
        prompts=4,
        evaluator=EvaluatorSettings(epochs=5, hidden=32),
        sampling=SamplingSettings(n=2, max_new_tokens=8),
        sft=SFTSettings(max_steps=2, batch_size=2, threads=1),
        dpo=DPOSettings(max_steps=1, batch_size=2, threads=1),
        min_confidence=0.5,
    )
    record = cai_stage(
        tmp_path / "cai",
        tiny_base_model_dir,
        tiny_world / "preferences.jsonl",
        tiny_world / "sft.jsonl",
        load_constitution("default"),
        s,
    )
    assert Path(record["model_dir"]).is_dir()
    assert record["revision"]["traces"] == 4
    assert (tmp_path / "cai" / "supervised" / "traces.jsonl").is_file()
    again = cai_stage(
        tmp_path / "cai",
        tiny_base_model_dir,
        tiny_world / "preferences.jsonl",
        tiny_world / "sft.jsonl",
        load_constitution("default"),
        s,
    )
    assert again["model_dir"] == record["model_dir"]  # resumed, nothing retrained
