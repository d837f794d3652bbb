"""The red team's stage in the lifecycle: a campaign against any model folder of a run.

:func:`redteam_stage` attacks one model (the base model, or an aligned one) and writes the
campaign into the run folder ``redteam_<name>/``: findings, summary, preference pairs of
the successful attacks (``pairs.jsonl``, for the next alignment round) and the report
section. Its Pareto plot holds every red-team stage of the run finished so far, so the
aligned model's section shows it next to the base model.

:func:`stage_redteam_base` has the pipeline's stage signature (run, demo config, console).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from valign.records.runs import read_records
from valign.redteam.campaign import FINDINGS, CampaignConfig, run_campaign
from valign.redteam.export import PAIRS, export_pairs
from valign.redteam.report import pareto_point, redteam_section, write_worst

#: A campaign small enough for the demo (one objective per intent, one variant per attack).
DEMO_CAMPAIGN = CampaignConfig(per_intent=1, variants=1)


def redteam_stage(
    run: Any,
    model_dir: Path,
    name: str,
    settings: CampaignConfig = DEMO_CAMPAIGN,
    console: Console | None = None,
    order: int = 55,
) -> dict[str, Any]:
    """Attack ``model_dir`` and return the stage summary (with its report section).

    ``run`` is a :class:`~valign.report.RunDir`; results go to ``run/redteam_<name>/``.
    Call it once per model: ``name="base"`` before alignment, ``"sft"``, ``"dpo"``... after.
    """
    stage = f"redteam_{name}"
    folder = run.stage(stage)
    cfg = settings.model_copy(update={"model": str(model_dir)})
    summary = run_campaign(cfg, folder, console=console)
    findings = read_records(folder / FINDINGS)
    summary["pairs"] = export_pairs(findings, folder / PAIRS)
    write_worst(findings, folder)
    points = []
    for other in run.stages():
        if other.startswith("redteam_") and other != stage and run.is_done(other):
            done = run.summary(other) or {}
            points.append(pareto_point(other.removeprefix("redteam_"), done))
    points.append(pareto_point(name, summary))
    summary["report"] = redteam_section(
        summary, title=f"Red teaming: {name} model", order=order, pareto=points
    )
    return summary


def _demo_settings(cfg: Any) -> CampaignConfig:
    return DEMO_CAMPAIGN.model_copy(
        update={"seed": int(getattr(cfg, "seed", 0)), "batch_size": cfg.eval_batch_size}
    )


def stage_redteam_base(run: Any, cfg: Any, console: Console) -> dict[str, Any]:
    """The pipeline stage: the campaign against the pretrained base model."""
    model_dir = Path(run.root) / "pretrain" / "model"
    return redteam_stage(run, model_dir, "base", _demo_settings(cfg), console)


def stage_redteam_aligned(run: Any, cfg: Any, console: Console) -> dict[str, Any]:
    """The same campaign against the aligned model (RL, else SFT), after alignment."""
    root = Path(run.root)
    model_dir = next(
        (root / d / "model" for d in ("rl", "sft") if (root / d / "model").is_dir()),
        root / "rl" / "model",
    )
    return redteam_stage(run, model_dir, "aligned", _demo_settings(cfg), console, order=56)
