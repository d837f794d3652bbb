"""Training under ``accelerate launch`` with two CPU processes (gloo), end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from valign.records.comparisons import load_comparisons
from valign.train.pretrain import PretrainConfig
from valign.train.reward import RewardSettings, train_reward_model

pytestmark = pytest.mark.slow


def _launch(*args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    """``valign ARGS`` (or, with ``module=False``, the script ``ARGS[0]``) on two processes."""
    accelerate = shutil.which("accelerate") or f"{sys.executable} -m accelerate.commands.launch"
    cmd = [
        *accelerate.split(),
        *(["launch"] if accelerate.endswith("accelerate") else []),
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        *(["-m", "valign.cli"] if module else []),
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_sft_and_lagrangian_rl_run_on_two_processes(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    sft = _launch(
        "train", "sft", "--model", str(tiny_base_model_dir), "--data",
        str(tiny_world / "sft.jsonl"), "--out", str(tmp_path / "sft"), "--max-steps", "2",
    )  # fmt: skip
    assert sft.returncode == 0, sft.stderr[-3000:]
    summary = json.loads((tmp_path / "sft" / "train.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 2
    assert (tmp_path / "sft" / "model" / "config.json").is_file()

    rows = load_comparisons(tiny_world / "preferences.jsonl")
    rm, _ = train_reward_model(
        tiny_base_model_dir, rows, tmp_path / "rm", RewardSettings(batch_size=4, max_steps=1)
    )
    config = tmp_path / "rl.yaml"
    config.write_text(
        "batch_size: 4\nnum_generations: 2\nmax_completion_length: 8\nbf16: false\n"
        "safety: {mode: lagrangian, rule_weight: 0, threshold: -100.0}\n"
    )
    rl = _launch(
        "train", "rl", "--model", str(tmp_path / "sft" / "model"), "--prompts",
        str(tiny_world / "preferences.jsonl"), "--out", str(tmp_path / "rl"),
        "--reward-model", str(rm.model_dir), "--cost-model", str(rm.model_dir),
        "--config", str(config), "--max-steps", "2",
    )  # fmt: skip
    assert rl.returncode == 0, rl.stderr[-3000:]
    assert json.loads((tmp_path / "rl" / "train.json").read_text())["processes"] == 2
    lagrange = json.loads((tmp_path / "rl" / "lagrange.json").read_text())
    assert len(lagrange["history"]) == 2 and lagrange["value"] > 1.0


def test_pretraining_runs_on_two_processes(
    tiny_world: Path, tiny_pretrain_config: PretrainConfig, tmp_path: Path
) -> None:
    cfg = tiny_pretrain_config.model_copy(update={"max_steps": 2, "batch_size": 4, "threads": 1})
    out = tmp_path / "pretrain"
    script = tmp_path / "pretrain.py"
    script.write_text(
        "from pathlib import Path\n"
        "from valign.train.pretrain import PretrainConfig, pretrain\n"
        f"cfg = PretrainConfig.model_validate_json({cfg.model_dump_json()!r})\n"
        f"pretrain(Path({str(tiny_world / 'corpus.jsonl')!r}), Path({str(out)!r}), cfg)\n"
    )
    done = _launch(str(script), module=False)
    assert done.returncode == 0, done.stderr[-3000:]
    # the main process fitted the tokenizer and wrote the model; the other one waited
    assert (out / "tokenizer" / "tokenizer.json").is_file()
    assert (out / "model" / "config.json").is_file() and not (out / ".model.tmp").exists()
    state = json.loads(next((out / "checkpoints").rglob("trainer_state.json")).read_text())
    assert state["global_step"] == 2
