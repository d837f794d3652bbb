from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from valign.errors import UserError
from valign.records.comparisons import load_comparisons
from valign.train.common import micro_batches
from valign.train.dpo import DPOSettings, dpo_trainer, train_dpo
from valign.train.microbatch import SortedMicroBatches, row_length
from valign.train.reward import RewardSettings, train_reward_model
from valign.train.rl import RLSettings, rl_trainer
from valign.train.sft import SFTSettings, load_demonstrations, sft, sft_trainer

SAME = {"batch_size": 8, "max_steps": 3, "bf16": False, "learning_rate": 1e-2, "save_steps": 100}


def _sampler(lengths: list[int], batch: int, k: int, seed: int = 3, **kw: Any) -> Any:
    return SortedMicroBatches(
        lengths=lengths, effective_batch_size=batch, dp_size=1, grad_accum=k, seed=seed, **kw
    )


def test_micro_batches_are_the_shuffled_batches_sorted_and_cut_evenly() -> None:
    lengths = [(7 * i) % 23 + 1 for i in range(30)]
    micro = list(_sampler(lengths, batch=8, k=4, drop_last=False))
    g = torch.Generator()
    g.manual_seed(3)
    order = torch.randperm(30, generator=g).tolist()
    batches = [order[i : i + 8] for i in range(0, 30, 8)]  # 8, 8, 8 and a tail of 6
    assert len(micro) == len(_sampler(lengths, batch=8, k=4, drop_last=False)) == 3 * 4 + 4
    assert [len(m) for m in micro] == [2] * 12 + [2, 2, 1, 1]
    groups = [micro[i : i + 4] for i in range(0, 16, 4)]
    assert [sorted(i for m in grp for i in m) for grp in groups] == [sorted(b) for b in batches]
    for grp in groups:
        flat = [lengths[i] for m in grp for i in m]
        assert flat == sorted(flat, reverse=True)  # longest first, contiguous cuts


def test_epochs_reshuffle_and_a_short_tail_can_be_dropped() -> None:
    s = _sampler(list(range(1, 21)), batch=8, k=2, drop_last=True)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    assert len(first) == len(s) == 4 and sorted(i for m in first for i in m) != list(range(16))
    assert first != second


def _padding(base: Path, world: Path, out: Path, k: int) -> tuple[int, int]:
    """(positions, real tokens) over one epoch of the SFT trainer's batches."""
    s = SFTSettings(**SAME, micro_batches=k)
    trainer = sft_trainer(base, load_demonstrations(world / "sft.jsonl"), out, s)
    batches = list(trainer.get_train_dataloader())
    return sum(b["input_ids"].numel() for b in batches), sum(
        int(b["attention_mask"].sum()) for b in batches
    )


def test_micro_batches_pad_less_than_their_batch(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    whole, real = _padding(tiny_base_model_dir, tiny_world, tmp_path / "1", 1)
    split, real_split = _padding(tiny_base_model_dir, tiny_world, tmp_path / "4", 4)
    assert real_split == real
    assert whole - real > 2 * (split - real)  # less than half the padding


def _batches(base: Path, world: Path, out: Path, k: int) -> list[list[tuple[int, ...]]]:
    """The rows of each optimiser batch (``k`` micro-batches), as token tuples."""
    s = SFTSettings(**{**SAME, "batch_size": 3}, micro_batches=k)
    trainer = sft_trainer(base, load_demonstrations(world / "sft.jsonl"), out, s)
    loader = trainer.get_train_dataloader()
    steps: list[list[tuple[int, ...]]] = []
    for i, b in enumerate(loader):
        if i % k == 0:
            steps.append([])
        mask = b["attention_mask"].bool()
        steps[-1] += [tuple(ids[m].tolist()) for ids, m in zip(b["input_ids"], mask, strict=True)]
    return [sorted(g) for g in steps]


def test_the_optimiser_batches_are_those_of_the_trainer_s_own_shuffle(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    plain = _batches(tiny_base_model_dir, tiny_world, tmp_path / "1", 1)
    split = _batches(tiny_base_model_dir, tiny_world, tmp_path / "3", 3)
    assert len(plain) > 2 and split == plain


def _weights(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_close(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], moved: dict[str, torch.Tensor]
) -> None:
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], moved[k]) for k in a)  # the steps changed the weights
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=2e-5, msg=k)


def test_sft_in_micro_batches_makes_the_same_update(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    runs = {
        k: sft(
            tiny_base_model_dir,
            tiny_world / "sft.jsonl",
            tmp_path / str(k),
            SFTSettings(**SAME, micro_batches=k),
        )
        for k in (1, 4)
    }
    start = _weights(AutoModelForCausalLM.from_pretrained(tiny_base_model_dir))
    w = {k: _weights(AutoModelForCausalLM.from_pretrained(r.model_dir)) for k, r in runs.items()}
    _assert_close(w[1], w[4], start)
    assert runs[1].train_loss == pytest.approx(runs[4].train_loss, abs=1e-5)


def test_reward_model_in_micro_batches_makes_the_same_update(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")[:60]
    w = {}
    for k in (1, 4):
        s = RewardSettings(**SAME, micro_batches=k, heldout=0.0)
        result, _ = train_reward_model(tiny_base_model_dir, rows, tmp_path / str(k), s)
        w[k] = _weights(AutoModelForSequenceClassification.from_pretrained(result.model_dir))
    base = _weights(AutoModelForSequenceClassification.from_pretrained(tiny_base_model_dir))
    _assert_close(w[1], w[4], base)


def test_dpo_in_micro_batches_makes_the_same_update(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")[:60]
    runs = {
        k: train_dpo(
            tiny_base_model_dir, rows, tmp_path / str(k), DPOSettings(**SAME, micro_batches=k)
        )
        for k in (1, 4)
    }
    start = _weights(AutoModelForCausalLM.from_pretrained(tiny_base_model_dir))
    w = {k: _weights(AutoModelForCausalLM.from_pretrained(r.model_dir)) for k, r in runs.items()}
    _assert_close(w[1], w[4], start)
    trainer = dpo_trainer(
        tiny_base_model_dir, rows, tmp_path / "x", DPOSettings(**SAME, micro_batches=4)
    )
    assert sum(len(b) for b in trainer._get_train_sampler()) == len(trainer.train_dataset)


def test_the_default_is_four_on_a_cpu_and_never_more_than_the_batch() -> None:
    assert micro_batches(SFTSettings()) == (1 if torch.cuda.is_available() else 4)
    assert micro_batches(SFTSettings(batch_size=2)) == (1 if torch.cuda.is_available() else 2)
    assert micro_batches(SFTSettings(micro_batches=1)) == 1
    # batch fields given to TRL directly win as they are: no split
    assert micro_batches(SFTSettings(trl={"gradient_accumulation_steps": 2})) == 1


def test_online_rl_refuses_micro_batches(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="micro_batches is for SFT, reward and DPO"):
        rl_trainer("unused", None, None, None, RLSettings(micro_batches=2), tmp_path)


def test_a_row_s_length_is_what_its_batch_pads() -> None:
    assert row_length({"input_ids": [1, 2, 3], "completion_mask": [0, 1, 1]}) == 3
    pair = {"chosen_ids": [1] * 5, "rejected_ids": [1] * 7, "margin": 0.5}
    assert row_length(pair) == 7  # reward: chosen and rejected padded together
    dpo = {"prompt_ids": [1] * 4, "chosen_ids": [1] * 2, "rejected_ids": [1] * 3}
    assert row_length(dpo) == 7  # DPO: the prompt in front of the longer reply
