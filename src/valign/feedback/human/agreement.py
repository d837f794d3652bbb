"""Inter-rater agreement: Krippendorff's alpha over all raters, Cohen's kappa per pair.

Alpha is 1 - observed / expected disagreement, both computed from the coincidence matrix
of values paired within each unit (Krippendorff, "Computing Krippendorff's Alpha-
Reliability", 2011). It handles any number of raters and missing judgments; units with one
value carry no pairing information and are left out. Kappa compares two raters on the
items they both judged, correcting their raw agreement for the agreement their label
frequencies would give by chance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal

from valign.stats import cohen_kappa

Metric = Literal["nominal", "ordinal", "interval"]


def _delta(
    metric: Metric, values: list[Hashable], n_c: Mapping[Hashable, float]
) -> dict[tuple[Hashable, Hashable], float]:
    """Squared distances between values, per Krippendorff's metric definitions."""
    out: dict[tuple[Hashable, Hashable], float] = {}
    order = sorted(values)  # type: ignore[type-var]
    rank = {v: i for i, v in enumerate(order)}
    for c in values:
        for k in values:
            if metric == "nominal":
                d = 0.0 if c == k else 1.0
            elif metric == "interval":
                d = (float(c) - float(k)) ** 2  # type: ignore[arg-type]
            else:  # ordinal: sum of frequencies between the two ranks, minus half the ends
                lo, hi = sorted((rank[c], rank[k]))
                between = sum(n_c[order[g]] for g in range(lo, hi + 1))
                d = (between - (n_c[c] + n_c[k]) / 2) ** 2
            out[(c, k)] = d
    return out


def krippendorff_alpha(
    units: Iterable[Sequence[Hashable]], metric: Metric = "nominal"
) -> float | None:
    """Alpha for ``units``: each the values the raters gave one unit (missing ones left out).

    None when there is nothing to compare (no unit with two values) or when every value is
    the same (expected disagreement zero: agreement cannot be told from chance).
    """
    coincidences: defaultdict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for raw in units:
        vals = list(raw)
        m = len(vals)
        if m < 2:
            continue
        for i, c in enumerate(vals):
            for j, k in enumerate(vals):
                if i != j:
                    coincidences[(c, k)] += 1.0 / (m - 1)
    n_c: defaultdict[Hashable, float] = defaultdict(float)
    for (c, _), w in coincidences.items():
        n_c[c] += w
    n = sum(n_c.values())
    if n <= 1:
        return None
    values = list(n_c)
    delta = _delta(metric, values, n_c)
    observed = sum(w * delta[pair] for pair, w in coincidences.items()) / n
    expected = sum(n_c[c] * n_c[k] * delta[(c, k)] for c in values for k in values) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def pairwise_kappas(
    labels: Mapping[Hashable, Mapping[Hashable, Hashable]], min_shared: int = 1
) -> list[tuple[Hashable, Hashable, int, float | None]]:
    """Kappa for every pair of raters; ``labels`` is rater -> item -> label.

    Returns (rater 1, rater 2, items shared, kappa) for pairs sharing at least
    ``min_shared`` items, ordered by rater.
    """
    out = []
    for r1, r2 in combinations(sorted(labels, key=str), 2):
        shared = sorted(set(labels[r1]) & set(labels[r2]), key=str)
        if len(shared) < min_shared:
            continue
        kappa = cohen_kappa([(labels[r1][i], labels[r2][i]) for i in shared])
        out.append((r1, r2, len(shared), kappa))
    return out
