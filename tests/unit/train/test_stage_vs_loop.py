"""The stage-against-loop benchmark (benchmarks/stage_vs_loop.py): its helpers, and one
smoke run of every stage on the tiny world and base model (the figures mean nothing there)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import yaml

from valign.train.pretrain import PretrainConfig

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "stage_vs_loop.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stage_vs_loop", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_missing_run_names_the_command_that_makes_it(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="valign demo --out"):
        bench.require_run(tmp_path / "nowhere")


def test_the_sample_spreads_over_the_file(bench: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(100)))
    assert bench.sample_lines(src, tmp_path / "a" / "s.jsonl", 10) == 10
    kept = [json.loads(x)["i"] for x in (tmp_path / "a" / "s.jsonl").read_text().splitlines()]
    assert kept == list(range(0, 100, 10))
    assert bench.sample_lines(src, tmp_path / "b.jsonl", 0) == 100  # 0: every line


def test_tokens_are_counted_without_padding(bench: ModuleType) -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert bench.count_tokens({"input_ids": torch.zeros(2, 4), "attention_mask": mask}) == 5
    assert bench.count_tokens({"input_ids": torch.zeros(3, 8)}) == 24  # packed blocks
    assert bench.split_arm("dpo-compact-head") == ("dpo", "compact-head")
    assert bench.split_arm("sft") == ("sft", "")


@pytest.mark.slow
def test_tiny_run_of_every_stage(
    bench: ModuleType,
    tiny_world: Path,
    tiny_base_model_dir: Path,
    tiny_pretrain_config: PretrainConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = tmp_path / "run"
    (run / "pretrain").mkdir(parents=True)
    (run / "world").symlink_to(tiny_world)
    (run / "pretrain" / "model").symlink_to(tiny_base_model_dir)
    config = tmp_path / "demo.yaml"
    small = {"batch_size": 4}
    config.write_text(
        yaml.safe_dump(
            {
                "pretrain": tiny_pretrain_config.model_dump(),
                "align": {"sft": small, "reward": small, "dpo": small},
            }
        )
    )
    out = tmp_path / "out"
    argv = ["stage_vs_loop.py", "--run", str(run), "--out", str(out), "--config", str(config)]
    monkeypatch.setattr(sys, "argv", [*argv, "--tiny", "--extra", "sft-grouped,dpo-compact-head"])
    assert bench.main() == 0
    record = json.loads((out / "stage_vs_loop.json").read_text())
    assert set(record["stages"]) == {"pretrain", "sft", "reward", "dpo"}
    for name, stage in record["stages"].items():
        arms = stage["summary"]["arms"]
        assert arms["valign"]["tokens_match"], name  # the loop trained on the same batches
        assert arms["loop"]["tokens_per_s"] > 0 and arms["valign"]["loop_over_arm"] > 0
        assert stage["full_data"]["setup_s"] > 0
    assert record["stages"]["dpo"]["full_data"]["ref_s"] > 0
    assert "sft-grouped" in record["stages"]["sft"]["summary"]["arms"]
    assert record["stages"]["dpo"]["summary"]["arms"]["dpo-compact-head"]["tokens_match"]
