"""Micro-batching: a failing input fails only itself; nothing a batch does stops the loop."""

from __future__ import annotations

import asyncio
import math

import pytest

from valign.guard.batching import InputFailed, MicroBatcher


class Model:
    """Doubles numbers; raises on any batch holding a negative one; records its batches."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [2 * i for i in items]


def test_a_failing_batch_is_split_down_to_its_failing_items() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=64, wait_ms=0)
    items = [1, 2, -3, 4, 5, 6, 7, -8, 9, 10, 11, 12, 13, 14, 15, 16]
    outcomes = batcher.run_isolated(items)
    assert [o for o in outcomes if not isinstance(o, Exception)] == [2 * i for i in items if i >= 0]
    assert [i for i, o in zip(items, outcomes, strict=True) if isinstance(o, Exception)] == [-3, -8]
    assert batcher.failed == 2
    # Bisection: about 2·k·log2(n) calls for k failing items in n, not n.
    assert len(model.calls) <= 1 + 2 * 2 * math.log2(len(items))


def test_a_wrong_result_count_counts_as_a_failure() -> None:
    batcher = MicroBatcher(lambda items: items[:1], max_batch=8, wait_ms=0)
    assert batcher.run_isolated([1, 2]) == [1, 2]  # split: each alone returns its one result
    assert batcher.splits == 1


def test_concurrent_requests_share_a_batch_and_only_the_bad_one_fails() -> None:
    model = Model()

    async def run() -> list[object]:
        batcher = MicroBatcher(model, max_batch=64, wait_ms=30)  # started lazily
        try:
            jobs = [batcher.submit([1, 2]), batcher.submit([3, -1]), batcher.submit([4])]
            return list(await asyncio.gather(*jobs, return_exceptions=True))
        finally:
            await batcher.stop()

    first, second, third = asyncio.run(run())
    assert first == [2, 4] and third == [8]
    assert isinstance(second, InputFailed) and second.index == 1
    assert isinstance(second.cause, ValueError)
    assert model.calls[0] == [1, 2, 3, -1, 4]  # one batch, then split


def test_the_loop_survives_a_model_that_breaks_every_way() -> None:
    calls = 0

    def broken(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return []  # the wrong number of results
        if calls == 2:
            raise RuntimeError("boom")
        return items

    async def run() -> list[int]:
        batcher = MicroBatcher(broken, max_batch=8, wait_ms=0)
        try:
            for _ in range(2):
                with pytest.raises(InputFailed):
                    await batcher.submit([7])
            return await batcher.submit([6])
        finally:
            await batcher.stop()

    assert asyncio.run(run()) == [6]


def test_a_stopped_batcher_starts_again() -> None:
    model = Model()

    async def run() -> list[int]:
        batcher = MicroBatcher(model, max_batch=8, wait_ms=0)
        await batcher.start()
        await batcher.stop()
        try:
            return await batcher.submit([3])  # as a second app lifespan would
        finally:
            await batcher.stop()

    assert asyncio.run(run()) == [6]
