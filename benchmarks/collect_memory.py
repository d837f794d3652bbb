"""Peak memory and time of ``valign values collect``'s aggregation on random votes.

N voters in two opinion camps vote on M statements (80% along their camp's line, the rest
at random); prints the groups found, the silhouette, the time and the peak memory traced
by tracemalloc during :func:`valign.values.collect.aggregate` (the votes themselves are
allocated before tracing starts), and the process's maximum resident set size.

    python benchmarks/collect_memory.py --voters 20000 --statements 50
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from valign.values.collect import Statement, aggregate


def random_votes(voters: int, statements: int, seed: int = 0) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(seed)
    camp = rng.integers(0, 2, voters)
    along = np.where(camp[:, None] == np.arange(statements) % 2, 1, -1)  # (voters, statements)
    noise = rng.integers(-1, 2, (voters, statements))
    grid = np.where(rng.random((voters, statements)) < 0.8, along, noise)
    return [(f"v{i}", f"s{j}", int(grid[i, j])) for i in range(voters) for j in range(statements)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=20_000)
    parser.add_argument("--statements", type=int, default=50)
    args = parser.parse_args()
    votes = random_votes(args.voters, args.statements)
    statements = [Statement(f"s{j}", f"statement {j}") for j in range(args.statements)]
    tracemalloc.start()
    start = time.perf_counter()
    agg = aggregate(votes, statements)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"voters={args.voters} statements={args.statements} "
        f"groups={len(set(agg.groups.values()))} silhouette={agg.silhouette:.3f} "
        f"time={seconds:.1f}s peak_traced={peak / 2**20:.0f}MiB max_rss={rss:.0f}MiB"
    )


if __name__ == "__main__":
    main()
