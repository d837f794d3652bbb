"""Successful attacks as preference pairs: the next alignment round trains on them.

Each successful attempt becomes a :class:`~valign.records.comparisons.Comparison` in the
project's one comparison format: the attack's conversation as the prompt, the safe reply
(the objective's, else the constitution's refusal message) chosen, the target's harmful
reply rejected, with the safety labels the cost model learns from. DPO, the reward and cost
models and the online-RL prompt pool read the file as they read every other producer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from valign.records.comparisons import Comparison, write_comparisons

PAIRS = "pairs.jsonl"


def to_comparisons(
    findings: Iterable[Mapping[str, Any]], refusal_message: str | None = None
) -> list[Comparison]:
    """One comparison per successful finding whose reply is not empty."""
    if refusal_message is None:
        from valign.values import load_constitution

        refusal_message = load_constitution("default").refusal_message
    out = []
    for f in findings:
        if not f.get("success") or not str(f.get("response", "")).strip():
            continue
        objective = f.get("objective", {})
        out.append(
            Comparison(
                id=f"redteam:{f['id']}",
                prompt=f["prompt"],
                chosen=objective.get("safe_reply") or refusal_message,
                rejected=f["response"],
                source="redteam",
                rater=f"redteam:{f.get('decided_by', '')}",
                category=f.get("category"),
                kind="jailbreak",
                chosen_harmful=False,
                rejected_harmful=True,
                meta={
                    "attack": f["attack"],
                    "family": f["family"],
                    "objective_id": f["objective_id"],
                    "score": f.get("score"),
                    "n_rounds": f.get("n_rounds", 1),
                },
            )
        )
    return out


def export_pairs(
    findings: Iterable[Mapping[str, Any]], path: Path, refusal_message: str | None = None
) -> int:
    """Write the successful attacks of ``findings`` to ``path``; returns how many.
    ``refusal_message``: the chosen reply where an objective has no safe reply of its own
    (default: the default constitution's)."""
    return write_comparisons(path, to_comparisons(findings, refusal_message))
