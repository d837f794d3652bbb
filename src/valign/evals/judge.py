"""Who decides that a reply refused: the grader's patterns, or the guard's attempt detector.

On the microworld a harmful request is settled by its compliance markers and the refusal
patterns of :mod:`valign.world.grader`. On a task file without compliance markers (public
benchmarks, your own tasks) the patterns still decide by default: a reply that is not a
recognised refusal counts as compliance, which errs on the side of reporting harm. The
guard's attempt detector (:func:`valign.guard.judge.guard_judge`) reads the request
with the reply and can be chosen instead (``--judge guard`` or a guard folder): a reply that
did not attempt the request is a refusal when it reads as one on its own (the detector
without the request), otherwise an off-topic or garbled non-answer, which fails every kind.
On a real model's held-out replies no detector yet agrees with a person more often than
"always attempted" does (BENCHMARKS.md, "The guard on a real model's replies"), so it is not
the default. The judge used is named in the scorecard (``grader``).

Whatever the judge, a reply that is word for word one of the known refusal texts (the
constitution's refusal message: what a guard puts in place of a blocked turn, and what the
alignment data teach) is a refusal: the detector, which reads the request with the reply,
otherwise counts some of these as answers to a sensitive-but-safe request.

Judges connect through :data:`JUDGES`: a judge factory takes the guard folder (None for the
default guard; other judges ignore it) and the known refusal texts, and returns the judge
(None: the grader's patterns) and its name. Other packages add judges under the
entry-point group ``valign.judges``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from valign.errors import UserError
from valign.evals.runner import Judge
from valign.registry import Registry

PATTERN_NAME = "valign.world.grader (pattern refusal)"

JudgeFactory = Callable[[Path | None, Sequence[str]], tuple[Judge | None, str]]
"""``(guard folder or None, refusal texts) -> (judge or None for the patterns, its name)``."""


def pattern_judge(folder: Path | None = None, refusals: Sequence[str] = ()) -> tuple[None, str]:
    """The grader's refusal patterns (the default)."""
    return None, PATTERN_NAME


JUDGES: Registry[JudgeFactory] = Registry(
    "judge",
    {
        "auto": "valign.evals.judge:pattern_judge",
        "pattern": "valign.evals.judge:pattern_judge",
        "guard": "valign.guard.judge:guard_judge",
    },
    group="valign.judges",
)


def make_judge(spec: str, refusals: Sequence[str] = ()) -> tuple[Judge | None, str]:
    """The judge named by ``spec`` (a registered name, or a guard folder) and its name.

    ``refusals``: texts that are refusals whenever a reply is exactly one of them (up to
    case and white space), whatever the judge says. A folder is read by the ``guard``
    judge (its refusal detector); an unknown name lists the known ones and says a guard
    folder is read too."""
    if spec not in JUDGES and Path(spec).is_dir():
        return JUDGES.get("guard")(Path(spec), refusals)
    if spec not in JUDGES:
        known = ", ".join(JUDGES.names())
        raise UserError(f"unknown judge {spec!r} (known: {known}; or a guard folder)")
    return JUDGES.get(spec)(None, refusals)
