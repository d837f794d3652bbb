"""Benchmark: how long ``valign --help`` takes, beside the floor of importing its CLI library.

Each run is a fresh interpreter (a subprocess), timed from start to exit: ``python -m valign
--help`` (the whole command tree, every group mounted, help drawn by rich) against ``python
-c "import typer, rich"`` (the libraries the command is built on, and nothing else). The two
are interleaved so that both see the same load from other work; the figure is the median of
``--runs`` runs, with the peak memory of the median run. Bar: ``valign --help`` under
``--bar`` seconds (default 1).

    python benchmarks/cli_startup.py [--runs 5] [--bar 1.0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"
COMMANDS = {
    "valign --help": [sys.executable, "-m", "valign", "--help"],
    "import typer, rich": [sys.executable, "-c", "import typer, rich"],
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one run of ``argv``."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def measure(runs: int) -> dict[str, dict[str, Any]]:
    path = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    for argv in COMMANDS.values():  # warm the page cache and the bytecode caches
        timed(argv, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            samples[name].append(timed(argv, env))
    result = {}
    for name, rows in samples.items():
        seconds = sorted(s for s, _ in rows)
        median = statistics.median(seconds)
        memory = min(rows, key=lambda r: abs(r[0] - median))[1]
        result[name] = {
            "median_s": round(median, 3),
            "min_s": round(seconds[0], 3),
            "max_s": round(seconds[-1], 3),
            "peak_mib": round(memory, 1),
        }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs of each command (the median is kept)")
    ap.add_argument("--bar", type=float, default=1.0, help="most seconds valign --help may take")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    timings = measure(args.runs)
    machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    help_s = timings["valign --help"]["median_s"]
    floor_s = timings["import typer, rich"]["median_s"]
    result = {
        "machine": machine,
        "runs": args.runs,
        "timings": timings,
        "ratio": round(help_s / floor_s, 2),
        "bar_s": args.bar,
    }
    print(json.dumps(result, indent=2))
    print(
        f"\n{machine['cpus']} CPUs, Python {machine['python']}, load average "
        f"{machine['load_average_before']} before, {machine['load_average_after']} after; "
        f"median of {args.runs} runs\n"
    )
    print("| command | median (min–max) | peak memory |\n| --- | --- | --- |")
    for name, row in timings.items():
        print(
            f"| `{name}` | {row['median_s']:.2f} s ({row['min_s']:.2f}–{row['max_s']:.2f}) | "
            f"{row['peak_mib']:.0f} MiB |"
        )
    print(f"\nvalign --help / import typer, rich: {result['ratio']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0 if help_s < args.bar else 1


if __name__ == "__main__":
    raise SystemExit(main())
