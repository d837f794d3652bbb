"""The same optimiser batches in micro-batches of similar length: less padding, same gradient.

A batch of conversations is padded to its longest one; on the demo's data about half of
every SFT, reward and DPO batch is padding, and a CPU computes it all. With
``micro_batches: k`` each optimiser batch keeps exactly the examples the trainer's own
shuffle puts in it (a permutation seeded with ``data_seed`` + the epoch, cut into
consecutive batches), but it is sorted by length and cut into ``k`` micro-batches of equal
size, each padded only to its own longest example, and the gradient is accumulated over
them. Sums of per-token losses divided by the batch's token count (SFT) and means over
equal-size micro-batches (reward, DPO) are then the batch's own loss, so the update is the
one of the whole batch up to the order of floating-point sums (a test compares the weights).

Built on transformers' :class:`~transformers.trainer_pt_utils.BatchRebalanceSampler`, which
the Trainer already feeds as a batch sampler: that sampler balances the micro-batches' cost
with groups of varying size, which would weight the examples of a mean loss unequally; here
the groups are of equal size. The Trainer builds its own with a fixed seed, so valign builds
this one with the run's ``data_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from transformers.trainer_pt_utils import BatchRebalanceSampler


class SortedMicroBatches(BatchRebalanceSampler):
    """Each effective batch of the seeded shuffle (``torch.randperm`` seeded with ``seed`` +
    the epoch, as accelerate's seedable sampler draws it), sorted by length, longest first,
    and cut into ``grad_accum`` contiguous micro-batches of equal size (one more example in
    the first ones when the batch does not divide; a last, short batch into as many as it
    fills). A subclass so that the Trainer passes it as its batch sampler."""

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        for start in range(0, n, self.effective_batch_size):
            batch = order[start : start + self.effective_batch_size]
            if len(batch) < self.effective_batch_size and self.drop_last:
                break
            yield from self._split(batch)

    def _split(self, batch: list[int]) -> Iterator[list[int]]:
        ranked = sorted(batch, key=lambda i: -self.lengths[i])
        k = min(self.grad_accum, len(ranked))
        base, extra = divmod(len(ranked), k)
        start = 0
        for g in range(k):
            size = base + (1 if g < extra else 0)
            yield ranked[start : start + size]
            start += size

    def __len__(self) -> int:
        n, size = len(self.lengths), self.effective_batch_size
        full, tail = divmod(n, size)
        keep_tail = tail and not self.drop_last
        return full * self.grad_accum + (min(self.grad_accum, tail) if keep_tail else 0)


def row_length(row: Mapping[str, Any]) -> int:
    """Padded positions a tokenised row takes in its batch: ``input_ids`` (SFT), the longer of
    ``chosen_ids``/``rejected_ids`` (reward; DPO adds its ``prompt_ids`` in front)."""
    ids = {k: v for k, v in row.items() if k.endswith("_ids")}
    if "input_ids" in ids:
        return len(ids["input_ids"])
    prompt = sum(len(v) for k, v in ids.items() if k.startswith("prompt"))
    rest = [len(v) for k, v in ids.items() if not k.startswith("prompt")]
    return prompt + max(rest, default=0)


def micro_batch_fields(batch_size: int, grad_accum: int, micro_batches: int) -> dict[str, int]:
    """The ``TrainingArguments`` batch fields for ``micro_batches`` per optimiser batch."""
    k = max(1, micro_batches)
    return {
        "per_device_train_batch_size": math.ceil(batch_size / k),
        "gradient_accumulation_steps": grad_accum * k,
    }


def use_micro_batches(trainer: Any, batch_size: int, grad_accum: int, micro_batches: int) -> Any:
    """Make ``trainer`` read its optimiser batches (``batch_size`` x ``grad_accum`` examples)
    as ``micro_batches`` sorted micro-batches each (:class:`SortedMicroBatches`), when its
    arguments come from :func:`micro_batch_fields` and it runs in one process; otherwise it
    keeps its own sampler. Returns the trainer."""
    if micro_batches <= 1:
        return trainer
    args = trainer.args
    if args.world_size > 1:
        return trainer  # several processes: the trainer's own sharded sampler
    if args.gradient_accumulation_steps != grad_accum * micro_batches:
        return trainer  # batch fields set otherwise: the trainer's own order
    lengths = [row_length(r) for r in trainer.train_dataset]
    if len(lengths) < args.gradient_accumulation_steps:
        return trainer  # fewer examples than micro-batches: the plain order, unsorted
    seed = args.data_seed if args.data_seed is not None else args.seed

    def sampler(_dataset: Any = None) -> SortedMicroBatches:
        return SortedMicroBatches(
            lengths=lengths,
            effective_batch_size=min(batch_size * grad_accum, len(lengths)),
            dp_size=1,
            grad_accum=args.gradient_accumulation_steps,
            shuffle=args.train_sampling_strategy != "sequential",
            seed=seed,
            drop_last=args.dataloader_drop_last,
        )

    trainer._get_train_sampler = sampler
    return trainer
