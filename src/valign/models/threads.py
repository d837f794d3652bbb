"""How many CPU threads torch may use: never more than the cores other work leaves free.

Torch starts one thread per core it can see. On a machine that other processes already
keep busy, those threads wait on each other and training runs several times slower than
with fewer threads (BENCHMARKS.md). :func:`set_threads` applies a ``threads`` setting:

* ``threads > 0``: exactly that many, as asked (and kept by later calls with ``0``);
* ``threads == 0`` (every default): the cores this process may use minus the one-minute
  load average of the others, at least one — and a one-line warning when that is fewer
  than the cores, naming the setting that overrides it. Decided once per process, at the
  first call (before this process's own work raises the load average).
"""

from __future__ import annotations

import os
import sys

_chosen: list[int] = []  # this process's count, once decided or asked for


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """``cores`` minus the busy ones (the rounded one-minute load average), at least one.
    The load counts this process too once it runs, so call this before heavy work."""
    cores = usable_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average on this platform
            load = 0.0
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
        print(
            f"valign: the machine is busy, so torch uses {n} of {cores} cores "
            "(set threads: N to choose)",
            file=sys.stderr,
        )
    return n
