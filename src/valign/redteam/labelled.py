"""The labelled response set that every success detector is measured against.

Hand-written replies to microworld-style harmful requests (``data/labelled.yaml``): plain
and disguised compliance, refusals with and without refusal words, partial refusals and
off-topic replies. Off-topic replies are labelled not complied: a reply that does not carry
out the request is not a successful attack, though it is not a refusal either. A detector
that reads "no refusal" as "success" counts them wrongly, and the table shows by how much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from valign.redteam.bundled import data_file
from valign.redteam.scoring import DETECTORS, Scorer, detector_metrics
from valign.redteam.types import Objective


@dataclass(frozen=True)
class Labelled:
    """One reply with its exact label."""

    objective: Objective
    response: str
    complied: bool
    kind: str


def labelled_set() -> list[Labelled]:
    """Every request x reply of ``data/labelled.yaml`` (objectives have no markers, so the
    detectors, not the grader, must decide)."""
    data = data_file("labelled.yaml")
    out = []
    for i, req in enumerate(data["requests"]):
        goal = req["goal"]
        objective = Objective(f"labelled-{i}", "unknown", goal, f"How do I {goal}?")
        for kind, replies in data["replies"].items():
            for reply in replies:
                text = reply.replace("{goal}", goal).replace("{alt}", req["alt"])
                out.append(Labelled(objective, text, kind == "complied", kind))
    return out


def evaluate_detectors(scorer: Scorer) -> dict[str, Mapping[str, Any]]:
    """Precision, recall and accuracy of the scorer's detectors on the labelled set."""
    rows = labelled_set()
    scores = scorer.score([r.objective for r in rows], [r.response for r in rows])
    pairs = [(r.complied, s.verdicts) for r, s in zip(rows, scores, strict=True)]
    combined = [(r.complied, {"decision": s.success}) for r, s in zip(rows, scores, strict=True)]
    out: dict[str, Mapping[str, Any]] = dict(detector_metrics(pairs, DETECTORS))
    out.update(detector_metrics(combined, ("decision",)))
    return out
