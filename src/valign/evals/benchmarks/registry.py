"""The benchmark registry: the built-in importers and third-party ones, by name.

Built-ins are the ``BENCHMARK`` of each module in :data:`BUILTIN_MODULES`, imported when
first asked for. A third-party package exposes a
:class:`~valign.evals.benchmarks.common.Benchmark` under the entry-point group
``valign.benchmarks``::

    [project.entry-points."valign.benchmarks"]
    my_benchmark = "my_package.bench:BENCHMARK"
"""

from __future__ import annotations

from valign.evals.benchmarks.common import Benchmark
from valign.registry import Registry

ENTRY_POINT_GROUP = "valign.benchmarks"
BUILTIN_MODULES = ("harmbench", "strongreject", "donotanswer", "bbq", "truthfulqa")

BENCHMARKS: Registry[Benchmark] = Registry(
    "benchmark",
    {name: f"valign.evals.benchmarks.{name}:BENCHMARK" for name in BUILTIN_MODULES},
    group=ENTRY_POINT_GROUP,
)
"""Every benchmark importer by name, built-in first."""


def registered_benchmarks() -> dict[str, Benchmark]:
    """Every benchmark importer, built-in first, by name."""
    return BENCHMARKS.items()


def get_benchmark(name: str) -> Benchmark:
    return BENCHMARKS.get(name)
