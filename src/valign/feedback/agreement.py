"""How far to trust a judge: agreement with held-out ground-truth labels, per principle.

Three numbers, because each hides what the others show: accuracy (with a Wilson
interval), Cohen's kappa (agreement beyond chance, which matters when one answer is far
more common) and calibration (expected calibration error and Brier score of the soft
label ``P(a better)``): a judge whose 0.9 is right only 60% of the time produces soft
labels that mislead a reward model even when its accuracy looks fine.

Any judge's verdicts will do: a verdict is read for its soft label, the principle it was
judged under and whether it flips with the order (:class:`valign.cai.judge.Verdict` is one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from valign.stats import cohen_kappa, proportion


class JudgedPair(Protocol):
    """What agreement reads from a judge's verdict on a pair (a, b)."""

    @property
    def p_a(self) -> float:
        """Probability that reply ``a`` is better (the soft label)."""
        ...

    @property
    def principle(self) -> str:
        """The principle the pair was judged under."""
        ...

    @property
    def flipped(self) -> bool:
        """The preferred reply changes when the order is swapped."""
        ...


def calibration(probs: Sequence[float], truth: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error (equal-width bins), Brier score and the reliability table."""
    n = len(truth)
    table = []
    ece = 0.0
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        members = [
            (p, t)
            for p, t in zip(probs, truth, strict=True)
            if lo <= p < hi or (k == bins - 1 and p == 1.0)
        ]
        if not members:
            continue
        conf = sum(p for p, _ in members) / len(members)
        freq = sum(t for _, t in members) / len(members)
        ece += len(members) / n * abs(conf - freq)
        table.append({"bin": [lo, hi], "n": len(members), "mean_p": conf, "frequency": freq})
    brier = sum((p - float(t)) ** 2 for p, t in zip(probs, truth, strict=True)) / max(1, n)
    return {"ece": ece, "brier": brier, "reliability": table}


def _summary(verdicts: Sequence[JudgedPair], truth: Sequence[bool]) -> dict[str, Any]:
    predicted = [v.p_a > 0.5 for v in verdicts]
    hits = sum(p == t for p, t in zip(predicted, truth, strict=True))
    cal = calibration([v.p_a for v in verdicts], truth)
    return {
        "n": len(truth),
        "accuracy": proportion(hits, len(truth)).to_dict(),
        "kappa": cohen_kappa(list(zip(predicted, truth, strict=True))),
        "ece": cal["ece"],
        "brier": cal["brier"],
        "flip_rate": sum(v.flipped for v in verdicts) / max(1, len(verdicts)),
    }


def agreement(
    verdicts: Sequence[JudgedPair],
    truth: Sequence[bool],
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Overall agreement and one row per group (default: the principle judged under).

    ``truth[i]`` is True when reply ``a`` of pair ``i`` is the better one.
    """
    if len(verdicts) != len(truth):
        raise ValueError(f"{len(verdicts)} verdicts but {len(truth)} labels")
    keys = list(groups) if groups is not None else [v.principle for v in verdicts]
    by: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        by[key].append(i)
    rows = {
        key: _summary([verdicts[i] for i in idx], [truth[i] for i in idx])
        for key, idx in sorted(by.items())
    }
    overall = _summary(verdicts, truth)
    overall["calibration"] = calibration([v.p_a for v in verdicts], truth)["reliability"]
    return {"overall": overall, "groups": rows}
