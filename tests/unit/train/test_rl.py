from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.records.comparisons import load_comparisons
from valign.train.reward import RewardSettings, train_reward_model
from valign.train.rewards import LagrangeMultiplier, SafetySettings
from valign.train.rl import MULTIPLIER_FILE, MultiplierCallback, RLSettings, prompt_pool, train_rl

TINY = {
    "batch_size": 4,
    "num_generations": 2,
    "max_completion_length": 8,
    "max_steps": 2,
    "save_steps": 1,
    "bf16": False,
}


@pytest.fixture(scope="module")
def tiny_scorer(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("tiny-rm")
    rows = load_comparisons(tiny_world / "preferences.jsonl")
    result, _ = train_reward_model(
        tiny_base_model_dir, rows, out, RewardSettings(batch_size=4, max_steps=1, bf16=False)
    )
    return result.model_dir


def test_prompt_pool_reads_every_format(tiny_world: Path, tmp_path: Path) -> None:
    assert prompt_pool(tiny_world / "preferences.jsonl")[0]["prompt"][-1]["role"] == "user"
    demos = prompt_pool(tiny_world / "sft.jsonl", limit=3)
    assert len(demos) == 3 and all(r["prompt"][-1]["role"] == "user" for r in demos)
    plain = tmp_path / "p.jsonl"
    plain.write_text('{"prompt": "hello"}\n{"nothing": 1}\n')
    with pytest.raises(UserError, match=r"p.jsonl:2: needs a 'prompt'"):
        prompt_pool(plain)


def test_prompt_pool_reads_trl_formats_from_parquet_and_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    user = [{"role": "user", "content": "Hi?"}]
    reply = [{"role": "assistant", "content": "Hello."}]
    expected = [{"prompt": user}]
    for row in (
        {"prompt": "Hi?"},
        {"prompt": user},
        {"prompt": user, "completion": reply},
        {"messages": user + reply},
        {"chosen": user + reply, "rejected": [*user, {"role": "assistant", "content": "No."}]},
    ):
        path = tmp_path / "p.parquet"
        pq.write_table(pa.Table.from_pylist([row]), path)
        assert prompt_pool(path) == expected, row
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: [{"prompt": "Hi?"}])
    assert prompt_pool("someone/prompts") == expected


def test_lagrangian_grpo_logs_the_multiplier_and_keeps_it_with_checkpoints(
    tiny_world: Path, tiny_base_model_dir: Path, tiny_scorer: Path, tmp_path: Path
) -> None:
    s = RLSettings(
        **TINY,
        safety=SafetySettings(
            mode="lagrangian",
            constraint="mean_cost",
            rule_weight=0,
            threshold=-100.0,
            lambda_lr=0.01,
        ),
    )
    result = train_rl(
        tiny_base_model_dir,
        tiny_world / "preferences.jsonl",
        tmp_path,
        s,
        reward_model=tiny_scorer,
        cost_model=tiny_scorer,
    )
    assert result.steps == 2
    lambdas = [v for _, v in result.series("lambda")]
    assert lambdas and lambdas[0] == 1.0
    saved = json.loads((tmp_path / MULTIPLIER_FILE).read_text())
    assert saved["value"] > 1.0  # cost far above the threshold: lambda grew
    assert (tmp_path / "checkpoints" / "checkpoint-1" / MULTIPLIER_FILE).is_file()
    restored = LagrangeMultiplier(value=1.0, lr=0.01, threshold=-100.0)
    MultiplierCallback(restored).restore(str(tmp_path / "checkpoints" / "checkpoint-2"))
    assert restored.value == pytest.approx(saved["value"])


def test_rloo_with_reward_model_only(
    tiny_world: Path, tiny_base_model_dir: Path, tiny_scorer: Path, tmp_path: Path
) -> None:
    s = RLSettings(
        **{**TINY, "max_steps": 1},
        algorithm="rloo",
        safety=SafetySettings(mode="none", rule_weight=0),
    )
    result = train_rl(
        tiny_base_model_dir, tiny_world / "sft.jsonl", tmp_path, s, reward_model=tiny_scorer
    )
    assert result.steps == 1 and (result.model_dir / "config.json").is_file()
    import torch

    # online RL's batch is its generation batch: never cut into micro-batches
    (saved,) = (tmp_path / "checkpoints").rglob("training_args.bin")
    args = torch.load(saved, weights_only=False)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (
        s.batch_size,
        s.grad_accum,
    )


def test_bad_settings_are_user_errors(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    none = SafetySettings(mode="none", rule_weight=0)
    with pytest.raises(UserError, match="multiple of num_generations"):
        train_rl(
            tiny_base_model_dir,
            tiny_world / "sft.jsonl",
            tmp_path,
            RLSettings(**{**TINY, "batch_size": 3}, safety=none),
        )
    with pytest.raises(UserError, match="needs a reward model"):
        train_rl(
            tiny_base_model_dir, tiny_world / "sft.jsonl", tmp_path, RLSettings(**TINY, safety=none)
        )
