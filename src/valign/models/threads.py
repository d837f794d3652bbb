"""How many CPU threads torch may use: never more than the cores other work leaves free.

Torch starts one thread per core it can see. On a machine that other processes already
keep busy, those threads wait on each other and training runs several times slower than
with fewer threads (BENCHMARKS.md). :func:`set_threads` applies a ``threads`` setting:

* ``threads > 0``: exactly that many, as asked (and kept by later calls with ``0``);
* ``threads == 0`` (every default): the cores this process may use minus the cores other
  processes keep busy right now, at least one — and a one-line warning when that is fewer
  than the cores, naming the setting that overrides it. Decided once per process, at the
  first call (before this process's own work starts).

"Busy right now" is sampled from ``/proc/stat`` over a quarter of a second. The one-minute
load average lags: after ``pip install ... && valign demo`` it still counts the finished
install and would halve the threads of a quiet machine. Where ``/proc/stat`` is missing the
load average is the fallback.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
_chosen: list[int] = []  # this process's count, once decided or asked for


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_times(stat: Path) -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``'s first line."""
    fields = [int(x) for x in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total


def busy_cores(window: float = 0.25, stat: Path = Path("/proc/stat")) -> float:
    """How many CPUs other processes keep busy now, sampled over ``window`` seconds
    (this process sleeps meanwhile); the one-minute load average where there is no
    ``/proc/stat``."""
    try:
        busy0, total0 = _cpu_times(stat)
        time.sleep(window)
        busy1, total1 = _cpu_times(stat)
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average on this platform
            return 0.0
    if total1 <= total0:
        return 0.0
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """``cores`` minus the busy ones (``load``, by default :func:`busy_cores`, rounded),
    at least one. Call it before this process's heavy work starts."""
    cores = usable_cores() if cores is None else cores
    if load is None:
        load = busy_cores()
    return max(1, cores - round(load))


def set_threads(threads: int = 0, *, cores: int | None = None, load: float | None = None) -> int:
    """Apply a ``threads`` setting to torch (see the module docstring); returns the count."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
        _chosen[:] = [threads]
        return threads
    if _chosen and cores is None and load is None:
        torch.set_num_threads(_chosen[0])
        return _chosen[0]
    cores = usable_cores() if cores is None else cores
    n = free_cores(cores, load)
    torch.set_num_threads(n)
    _chosen[:] = [n]
    if n < cores:
        log.warning(
            "the machine is busy, so torch uses %d of %d cores (set threads: N to choose)",
            n,
            cores,
        )
    return n


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread for a block: small matrices (a guard head, a tiny test model) run
    fastest that way and do not stall on a busy machine; the count before is restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
