"""The scorecard's bootstrap intervals (MC2 and the bias scores) for saved evaluation records.

Recomputes the scorecard of each ``responses.jsonl`` with this checkout's statistics and
prints one row per bootstrapped metric: the value, n and the interval. Run it on the same
files before and after a change to the statistics to compare the intervals.

    python benchmarks/scorecard_intervals.py runs/demo/eval_base/responses.jsonl ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from valign.evals.scorecard import compute_scorecard

METRICS = ("truthfulness_mc2", "bias_ambiguous", "bias_disambiguated")


def main(paths: list[str]) -> None:
    print("| records | metric | n | value | interval |")
    print("| --- | --- | ---: | ---: | --- |")
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        metrics = compute_scorecard([json.loads(line) for line in lines if line.strip()])
        for name in METRICS:
            est = metrics["metrics"].get(name)
            if est:
                print(
                    f"| {path} | {name} | {est['n']} | {est['value']:+.4f} "
                    f"| [{est['low']:+.4f}, {est['high']:+.4f}] |"
                )


if __name__ == "__main__":
    main(sys.argv[1:])
