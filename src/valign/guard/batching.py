"""Micro-batching for the guard server: concurrent requests share one model call.

Each input waits at most a few milliseconds for inputs of other requests to join its batch;
one worker thread runs the model while the event loop keeps accepting requests.

Batch-mates are strangers: an input that makes the model fail must fail only its own request.
When a batch raises, it is split in halves and each half is run again, down to single inputs,
so the good inputs are answered and only the failing ones carry the error (k failing inputs
in a batch of n cost about 2·k·log2(n) extra model calls). A model that returns the wrong
number of results counts as failing. Nothing a batch does stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("valign.guard.server")


class InputFailed(Exception):
    """The model failed on one input of a request (even when run alone)."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(f"the model failed on input {index}: {cause!r}")
        self.index, self.cause = index, cause


class MicroBatcher(Generic[T, R]):
    """Collects items from concurrent requests into batches for one worker thread.

    Attributes:
        batches: Batches run (each counted once, however often it was split).
        items: Items answered.
        splits: Times a failing batch was split to isolate its failing items.
        failed: Items that failed even on their own.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], max_batch: int, wait_ms: float) -> None:
        self.fn, self.max_batch, self.wait = fn, max_batch, wait_ms / 1000
        self.queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.task: asyncio.Task[None] | None = None
        self.batches = self.items = self.splits = self.failed = 0

    async def start(self) -> None:
        """Start the loop (again, after :meth:`stop`); nothing if it runs."""
        if self.task is None:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard")
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    async def submit(self, items: Sequence[T]) -> list[R]:
        """Results for ``items``, in order; :class:`InputFailed` names the first that failed."""
        await self.start()  # started lazily when the host app runs no lifespan
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            fut: asyncio.Future[R] = loop.create_future()
            self.queue.put_nowait((item, fut))
            futures.append(fut)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, BaseException):
                raise InputFailed(index, outcome) from outcome
        return list(outcomes)  # type: ignore[arg-type]  # no exceptions left

    async def _collect(self) -> list[tuple[T, asyncio.Future[R]]]:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self.queue.get()]
        deadline = loop.time() + self.wait
        while len(batch) < self.max_batch:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        executor = self.executor
        while True:
            batch = await self._collect()
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                outcomes = await loop.run_in_executor(
                    executor, self.run_isolated, [item for item, _ in live]
                )
            except Exception as exc:  # the executor itself failed: fail this batch, keep going
                outcomes = [exc] * len(live)
            self.batches += 1
            for (_, fut), outcome in zip(live, outcomes, strict=True):
                if fut.done():
                    continue
                if isinstance(outcome, BaseException):
                    fut.set_exception(outcome)
                else:
                    self.items += 1
                    fut.set_result(outcome)

    def run_isolated(self, items: list[T]) -> list[R | Exception]:
        """``fn(items)``; if it fails, each half again, so only failing items get an error."""
        try:
            results = list(self.fn(items))
            if len(results) != len(items):
                raise RuntimeError(f"the model returned {len(results)} results for {len(items)}")
            return list(results)
        except Exception as exc:
            error = exc
        # Outside the except block, so that a half's errors are not chained to this one.
        if len(items) == 1:
            self.failed += 1
            log.error("the model failed on one input", exc_info=error)
            return [error]
        self.splits += 1
        mid = len(items) // 2
        return self.run_isolated(items[:mid]) + self.run_isolated(items[mid:])
