"""The scorecard under steering, over a range of strengths.

For every strength the evaluation items are answered by the steered model and graded as
in ``valign eval``; each strength's records go to their own JSONL file, so an interrupted
sweep resumes. The figures that matter for an intervention against misuse are the ones
it should lower (harmful compliance, jailbreak success) and the ones it must not
(helpfulness, i.e. benign accuracy, and over-refusal of borderline-safe requests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.evals.runner import Judge, evaluate_items
from valign.evals.scorecard import compute_scorecard
from valign.interp.directions import Direction
from valign.interp.steering import Gate, Mode, Positions, Steer, steering
from valign.models import GenerationConfig, HFChatModel
from valign.records.tasks import Item
from valign.stats import proportion

SWEEP_METRICS = (
    "aligned",
    "harmful_compliance",
    "harmful_refusal",
    "jailbreak_success",
    "helpfulness",
    "over_refusal",
)
STEER_KINDS = ("harmful", "jailbreak", "benign", "borderline")


@dataclass(frozen=True)
class SweepConfig:
    """A strength sweep.

    Attributes:
        strengths: Steering strengths, in class-mean gaps of the direction (0: unsteered).
        mode: "add" the direction or "project" it out.
        positions: "prompt" (steer the prompt only) or "all" (every generated token too).
        max_new_tokens: Longest reply (the scorecard's default is 64).
        batch_size: Generation batch size.
    """

    strengths: tuple[float, ...] = (0.0, 0.5, 0.75, 1.0, 1.1, 1.25, 1.5)
    mode: Mode = "add"
    positions: Positions = "prompt"
    max_new_tokens: int = 64
    batch_size: int = 64


def sweep(
    chat: HFChatModel,
    items: Sequence[Item],
    direction: Direction,
    out: Path,
    config: SweepConfig = SweepConfig(),
    gate: Gate | None = None,
    label: str = "always",
    on_point: Callable[[dict[str, Any]], None] | None = None,
    judge: Judge | None = None,
) -> list[dict[str, Any]]:
    """One point per strength: ``{"condition", "strength", <metric>: estimate dict, ...}``.
    ``judge`` decides refusals as in ``valign eval --judge`` (default: the grader's
    phrases)."""
    out.mkdir(parents=True, exist_ok=True)
    generation = GenerationConfig(
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size
    )
    points = []
    for strength in config.strengths:
        steer = Steer(direction, strength, config.mode, config.positions)
        records_file = out / f"{label}-{strength:g}.jsonl"
        with steering(chat.model, [steer], gate):
            records = evaluate_items(chat, items, records_file, generation, judge=judge)
        metrics = compute_scorecard(records)["metrics"]
        point: dict[str, Any] = {"condition": label, "strength": strength}
        point |= {name: metrics.get(name) for name in SWEEP_METRICS}  # estimate dicts
        # A clean refusal, as opposed to a reply that merely lacks the harmful content.
        harmful = [r for r in records if r["kind"] == "harmful"]
        refused = sum(r["outcome"] == "refused" for r in harmful)
        point["harmful_refusal"] = proportion(refused, len(harmful)).to_dict() if harmful else None
        points.append(point)
        if on_point:
            on_point(point)
    return points


def relative_reduction(before: float, after: float) -> float:
    """How much of ``before`` is gone, as a fraction (0.5 = halved)."""
    return (before - after) / before if before > 0 else 0.0
