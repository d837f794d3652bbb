"""Public benchmarks as valign task files: HarmBench, StrongREJECT, Do-Not-Answer, BBQ,
TruthfulQA. Each importer is one module; each keeps a fixed train/test split.

``import_benchmark(name, split)`` returns the items; ``valign tasks import`` writes them.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
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

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "common": ["SPLITS", "Benchmark", "HubData", "WheelData", "hash_split"],
            "importer": ["Imported", "import_benchmark"],
            "registry": ["get_benchmark", "registered_benchmarks"],
        },
    )
