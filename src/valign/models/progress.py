"""An optional progress bar for long generation and scoring runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)


def _columns() -> tuple[ProgressColumn, ...]:
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`; draws a rich bar on stderr only when `enabled`."""
    if not enabled:
        yield lambda n: None
        return
    with Progress(*_columns(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def is_main_process() -> bool:
    """True unless this is a secondary process of a distributed launch."""
    return os.environ.get("RANK", "0") == "0"


@contextmanager
def steps_bar(
    description: str, console: Console | None = None
) -> Iterator[Callable[[int, int], None]]:
    """Yield ``on_step(step, total)`` for a trainer; draws a bar of optimiser steps.

    Under ``accelerate launch`` only the main process draws it.
    """
    if not is_main_process():
        yield lambda step, total: None
        return
    with Progress(*_columns(), console=console or Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None)
        yield lambda step, total: bar.update(task, completed=step, total=total)
