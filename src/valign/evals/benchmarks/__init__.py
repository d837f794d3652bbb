"""Public benchmarks as valign task files: HarmBench, StrongREJECT, Do-Not-Answer, BBQ,
TruthfulQA. Each importer is one module; each keeps a fixed train/test split.

``import_benchmark(name, split)`` returns the items; ``valign tasks import`` writes them.
"""

from valign.evals.benchmarks.common import SPLITS, Benchmark, HubData, WheelData, hash_split
from valign.evals.benchmarks.importer import Imported, import_benchmark
from valign.evals.benchmarks.registry import get_benchmark, registered_benchmarks

__all__ = [
    "SPLITS",
    "Benchmark",
    "HubData",
    "Imported",
    "WheelData",
    "get_benchmark",
    "hash_split",
    "import_benchmark",
    "registered_benchmarks",
]
