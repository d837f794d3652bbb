"""Settings shared by every trainer: TRL's own options pass through, seeds and batch sizes
come from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from trl import DPOConfig, GRPOConfig, SFTConfig

from valign.cli import main
from valign.errors import UserError
from valign.train.common import trl_config
from valign.train.dpo import DPOSettings
from valign.train.rl import RLSettings
from valign.train.sft import SFTSettings, sft_trainer


def test_the_trl_section_reaches_trl_s_config_and_wins(tmp_path: Path) -> None:
    s = SFTSettings(trl={"eval_strategy": "steps", "eval_steps": 7, "seed": 11})
    cpu = {"output_dir": str(tmp_path), "use_cpu": True, "bf16": False}
    args = trl_config(SFTConfig, s, **cpu, seed=0, max_length=64)
    assert (args.eval_strategy, args.eval_steps, args.seed) == ("steps", 7, 11)
    assert args.max_length == 64  # valign's own fields stay where the section is silent
    grpo = trl_config(GRPOConfig, RLSettings(trl={"use_vllm": True}), **cpu)
    assert grpo.use_vllm is True


def test_a_field_trl_does_not_know_is_one_line(tmp_path: Path) -> None:
    s = DPOSettings(trl={"beta": 0.2, "no_such_field": 1})
    with pytest.raises(UserError, match=r"^trl: no_such_field not a field of TRL's DPOConfig"):
        trl_config(DPOConfig, s, output_dir=str(tmp_path), use_cpu=True, bf16=False)


def test_trainers_pass_the_section_through(tiny_world: Path, tiny_base_model_dir: Path) -> None:
    rows = [json.loads(x) for x in (tiny_world / "sft.jsonl").read_text().splitlines()[:8]]
    s = SFTSettings(max_steps=1, batch_size=2, bf16=False, trl={"logging_steps": 3})
    trainer = sft_trainer(tiny_base_model_dir, rows, tiny_world.parent / "t", s)
    assert trainer.args.logging_steps == 3


def test_seed_and_batch_size_on_the_command_line(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text("max_steps: 1\nbf16: false\ntrl:\n  logging_steps: 1\n")
    argv = ["train", "sft", "--model", str(tiny_base_model_dir), "--out", str(tmp_path / "o")]
    argv += ["--data", str(tiny_world / "sft.jsonl"), "--config", str(config)]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--seed", "3", "--batch-size", "2"])
    assert not info.value.code
    import torch

    (saved,) = (tmp_path / "o").rglob("training_args.bin")
    args = torch.load(saved, weights_only=False)
    # two examples an optimiser step (on a CPU in sorted micro-batches of one)
    batch = args.per_device_train_batch_size * args.gradient_accumulation_steps
    assert (args.seed, batch, args.logging_steps) == (3, 2, 1)
    # the exported model carries its card
    card = (tmp_path / "o" / "model" / "README.md").read_text()
    assert card.startswith(f'---\nbase_model: "{tiny_base_model_dir}"\n')
    assert "tags: [valign, trl, sft]" in card and "`SFTTrainer`" in card
    assert "| `seed` | 3 |" in card
    assert f"| `per_device_train_batch_size` | {args.per_device_train_batch_size} |" in card
    assert f"| `gradient_accumulation_steps` | {args.gradient_accumulation_steps} |" in card
    assert "valign eval --model" in card
    assert f"training examples from `{tiny_world / 'sft.jsonl'}`" in card
    assert "datasets:" not in card  # a local file is not a Hub dataset


def test_a_hub_dataset_is_named_in_the_card_s_front_matter() -> None:
    from valign.train.card import model_card

    card = model_card("DPOTrainer", "org/base", 10, {}, {}, {}, source="org/prefs:train")
    assert card.startswith('---\nbase_model: "org/base"\ndatasets: ["org/prefs"]\n')
    assert "from `org/prefs:train`" in card


def test_compact_lm_head_scores_only_labelled_positions_with_the_same_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspect

    import trl.trainer.utils as trl_utils
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from valign.train.common import compact_lm_head

    # The switch is TRL's module-level ``_use_triton``, read once there: to choose compact.
    source = inspect.getsource(trl_utils)
    assert source.count("_use_triton(") == 1
    assert "compact = _use_triton(" in inspect.getsource(add_fused_lm_head)
    original = getattr(trl_utils._use_triton, "original", trl_utils._use_triton)  # unpatched
    monkeypatch.setattr(trl_utils, "_use_triton", original)  # restored after the test
    assert not trl_utils._use_triton(torch.device("cpu"))

    torch.manual_seed(0)
    cfg = Qwen2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=97,
    )
    model = Qwen2ForCausalLM(cfg)
    add_fused_lm_head(model)
    ids = torch.randint(0, 97, (3, 12))
    labels = ids.clone()
    labels[:, :8] = -100  # the prompt
    labels[2, 10:] = -100  # padding

    def loss_and_grad() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        model.zero_grad()
        out = model(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        grad = model.get_output_embeddings().weight.grad
        assert grad is not None
        return out.loss.detach(), out.log_probs.detach(), grad.clone()

    full = loss_and_grad()
    compact_lm_head()
    compact_lm_head()  # a second call does not wrap the switch twice
    assert trl_utils._use_triton(torch.device("cpu"))
    assert trl_utils._use_triton.original is original
    compact = loss_and_grad()
    for a, b in zip(full, compact, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_length_grouped_order_is_a_seeded_permutation_with_little_padding() -> None:
    import random

    from valign.train.common import length_grouped_order

    rng = random.Random(1)
    lengths = [rng.randint(10, 400) for _ in range(1000)]
    order = length_grouped_order(lengths, batch=16, seed=3)
    assert sorted(order) == list(range(1000))
    assert order == length_grouped_order(lengths, batch=16, seed=3)
    assert order != length_grouped_order(lengths, batch=16, seed=4)

    def padding(idx: list[int]) -> float:
        batches = [idx[k : k + 16] for k in range(0, len(idx), 16)]
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        return 1 - sum(lengths) / padded

    shuffled = list(range(1000))
    random.Random(0).shuffle(shuffled)
    assert padding(shuffled) > 0.4 and padding(order) < 0.05
    # Not sorted overall: long and short batches alternate at random.
    firsts = [lengths[order[k]] for k in range(0, 1000, 16)]
    assert firsts != sorted(firsts, reverse=True)


def test_group_by_length_reaches_the_trainer_in_order(tmp_path: Path) -> None:
    from valign.train.common import length_grouped, row_lengths

    rows = [
        {"prompt": [{"role": "user", "content": "q" * n}], "completion": "a" * (n % 7)}
        for n in range(1, 41)
    ]
    same, fields = length_grouped(rows, SFTSettings())
    assert same == rows and fields == {}
    grouped, fields = length_grouped(rows, SFTSettings(group_by_length=True, batch_size=4))
    assert fields == {"train_sampling_strategy": "sequential"}
    assert sorted(row_lengths(grouped)) == sorted(row_lengths(rows))
    for k in range(0, 40, 4):
        batch = row_lengths(grouped[k : k + 4])
        assert batch == sorted(batch, reverse=True) and max(batch) - min(batch) <= 12
