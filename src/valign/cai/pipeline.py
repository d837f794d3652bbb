"""Constitutional AI from end to end: evaluator, then supervised CAI, then RLAIF.

Phases, each a function a script (or ``valign cai``) can call on its own:

1. ``fit_evaluator``  the trained evaluator from the constitution's examples and a small
                      labelled seed of comparisons (the only human-style labels used)
2. :func:`valign.cai.supervised.supervised_cai`  critique-revision, then SFT
3. :func:`valign.cai.rlaif.rlaif_phase`          AI labels, then DPO (or online RL on the
                      evaluator's score)

``cai_stage`` runs them in order, each skipped when its folder says it is done. No
ground-truth labels are read after phase 1: prompts come from any prompt file, replies
from the policy itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from valign.cai.evaluator import TrainedEvaluator, pair_items, train_evaluator
from valign.cai.rlaif import rlaif_phase
from valign.cai.sampling import prompts_from
from valign.cai.settings import CAISettings
from valign.cai.supervised import supervised_cai
from valign.feedback.agreement import agreement
from valign.records.comparisons import Comparison, load_comparisons
from valign.values import Constitution


def fit_evaluator(
    constitution: Constitution, seed_file: str | Path | None, out: Path, s: CAISettings
) -> tuple[TrainedEvaluator, int]:
    """Train and save the evaluator on the constitution plus the first ``seed_size`` labels."""
    rows = load_comparisons(seed_file)[: s.seed_size] if seed_file and s.seed_size else []
    evaluator = train_evaluator(constitution, rows, s.evaluator)
    evaluator.save(out)
    return evaluator, len(rows)


def evaluator_in(
    folder: Path, constitution: Constitution, seed_file: str | Path | None, s: CAISettings
) -> TrainedEvaluator:
    """The evaluator saved in ``folder``, trained there first when it is not."""
    if (folder / "evaluator.json").is_file():
        return TrainedEvaluator.load(folder)
    return fit_evaluator(constitution, seed_file, folder, s)[0]


def evaluator_agreement(
    evaluator: TrainedEvaluator,
    constitution: Constitution,
    rows: Sequence[Comparison],
    limit: int = 1000,
) -> dict[str, Any]:
    """The evaluator's agreement with held-out labelled comparisons, per principle."""
    items, truth = pair_items(list(rows)[:limit], constitution, seed=1)
    return agreement(evaluator.compare(items), truth) if items else {}


def cai_stage(
    out: Path,
    policy: str | Path,
    seed_file: str | Path,
    prompt_file: str | Path,
    constitution: Constitution,
    s: CAISettings | None = None,
    supervised: bool = True,
    rlaif: bool = True,
) -> dict[str, Any]:
    """Evaluator → supervised CAI → RLAIF (``s.method``), each phase skipped when done.

    ``seed_file`` gives the evaluator's labelled seed (its first ``seed_size`` rows; the
    following rows measure its agreement); ``prompt_file`` the prompts (no replies or
    labels are read from it); either is a file or a Hugging Face dataset id. Writes
    ``out/cai.json`` and returns it; ``model_dir`` is the final policy, ready for the
    scorecard.
    """
    s = s or CAISettings()
    out.mkdir(parents=True, exist_ok=True)
    evaluator = evaluator_in(out / "evaluator", constitution, seed_file, s)
    heldout = load_comparisons(seed_file)[s.seed_size :]
    record: dict[str, Any] = {
        "seed_size": s.seed_size,
        "agreement": evaluator_agreement(evaluator, constitution, heldout),
        "settings": s.model_dump(),
    }
    convs = prompts_from(prompt_file, 2 * s.prompts if s.prompts else 0)
    half = len(convs) // 2 if rlaif and supervised else len(convs)
    current = Path(policy)
    if supervised:
        folder = out / "supervised"
        if not (folder / "model" / "config.json").is_file():
            supervised_cai(current, convs[:half], evaluator, constitution, folder, s)
        record["revision"] = json.loads((folder / "revision_stats.json").read_text())
        current = folder / "model"
    if rlaif:
        phase = rlaif_phase(current, convs[-half:], evaluator, out / "rlaif", s)
        phase.pop("train", None)
        record["rlaif"] = phase
        current = Path(phase["model_dir"])
    record["model_dir"] = str(current)
    (out / "cai.json").write_text(json.dumps(record, indent=2, default=str))
    return record
