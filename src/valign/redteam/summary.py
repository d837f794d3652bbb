"""From findings to figures: attack success rates with intervals, detector quality, cost.

Every rate is a proportion with its Wilson 95% interval (:func:`valign.stats.proportion`):
a cell of the category x attack grid holds a few dozen attempts, and a point estimate alone
would overstate what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from valign.redteam.scoring import DETECTORS, detector_metrics
from valign.redteam.types import AttackMeta
from valign.stats import proportion


def _rate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return proportion(sum(bool(r["success"]) for r in rows), len(rows)).to_dict()


def _group(rows: Iterable[Mapping[str, Any]], *keys: str) -> dict[Any, list[Mapping[str, Any]]]:
    out: dict[Any, list[Mapping[str, Any]]] = {}
    for r in rows:
        key = r[keys[0]] if len(keys) == 1 else tuple(r[k] for k in keys)
        out.setdefault(key, []).append(r)
    return dict(sorted(out.items()))


def summarise(
    findings: Sequence[Mapping[str, Any]],
    controls: Sequence[Mapping[str, Any]] = (),
    attacks: Sequence[AttackMeta] = (),
    throughput: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The campaign's ``summary.json``.

    Keys: ``asr`` (overall), ``by_attack``, ``by_family``, ``by_category``, ``grid``
    (category -> attack -> rate), ``detectors`` (precision/recall of each detector against
    the exact grader, where objectives have markers), ``decided_by``, ``over_refusal``
    (refusals of borderline-safe controls), ``throughput`` and ``attacks`` (metadata).
    """
    grid: dict[str, dict[str, Any]] = {}
    for (cat, attack), rows in _group(findings, "category", "attack").items():
        grid.setdefault(cat, {})[attack] = _rate(rows)
    labelled = [
        (bool(r["verdicts"]["grader"]), r["verdicts"])
        for r in findings
        if r.get("verdicts", {}).get("grader") is not None
    ]
    others = [d for d in DETECTORS if d != "grader"]
    decided: dict[str, int] = {}
    for r in findings:
        decided[r["decided_by"]] = decided.get(r["decided_by"], 0) + 1
    summary: dict[str, Any] = {
        "n_attempts": len(findings),
        "n_success": sum(bool(r["success"]) for r in findings),
        "asr": _rate(findings),
        "by_attack": {k: _rate(v) for k, v in _group(findings, "attack").items()},
        "by_family": {k: _rate(v) for k, v in _group(findings, "family").items()},
        "by_category": {k: _rate(v) for k, v in _group(findings, "category").items()},
        "grid": grid,
        "detectors": detector_metrics(labelled, others) if labelled else {},
        "decided_by": decided,
        "over_refusal": (
            proportion(sum(bool(c["refused"]) for c in controls), len(controls)).to_dict()
            if controls
            else None
        ),
        "attacks": [a.to_dict() for a in attacks],
    }
    if throughput:
        seconds = float(throughput.get("seconds", 0.0)) or float("nan")
        summary["throughput"] = {
            **dict(throughput),
            "attempts_per_s": round(float(throughput.get("attempts", 0)) / seconds, 3),
        }
    return summary


def worst(findings: Sequence[Mapping[str, Any]], per_attack: int = 1, limit: int = 12) -> list[Any]:
    """The most complete successes, ``per_attack`` per attack, most compliant first."""
    wins = sorted(
        (r for r in findings if r["success"]), key=lambda r: (-float(r["score"]), r["id"])
    )
    taken: dict[str, int] = {}
    out = []
    for r in wins:
        if taken.get(r["attack"], 0) < per_attack:
            taken[r["attack"]] = taken.get(r["attack"], 0) + 1
            out.append(r)
    return out[:limit]
