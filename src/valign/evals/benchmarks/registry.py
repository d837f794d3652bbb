"""The benchmark registry: the built-in importers and third-party ones, by name.

Built-ins are the ``BENCHMARK`` of each module in :data:`BUILTIN_MODULES`. A third-party
package exposes a :class:`~valign.evals.benchmarks.common.Benchmark` under the entry-point
group ``valign.benchmarks``::

    [project.entry-points."valign.benchmarks"]
    my_benchmark = "my_package.bench:BENCHMARK"
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import metadata

from valign.errors import UserError
from valign.evals.benchmarks.common import Benchmark

ENTRY_POINT_GROUP = "valign.benchmarks"
BUILTIN_MODULES = ("harmbench", "strongreject", "donotanswer", "bbq", "truthfulqa")


@cache
def registered_benchmarks() -> dict[str, Benchmark]:
    """Every benchmark importer, built-in first, by name."""
    found: dict[str, Benchmark] = {}
    for module in BUILTIN_MODULES:
        bench = importlib.import_module(f"valign.evals.benchmarks.{module}").BENCHMARK
        found[bench.name] = bench
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not hide the built-in importers
            raise UserError(f"benchmark plugin {ep.name!r} ({ep.value}) failed: {exc}") from exc
    return found


def get_benchmark(name: str) -> Benchmark:
    benches = registered_benchmarks()
    if name not in benches:
        raise UserError(f"unknown benchmark {name!r} (known: {', '.join(benches)})")
    return benches[name]
