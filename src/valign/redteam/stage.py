"""The red team's stages in the lifecycle: a campaign against any model folder of a run.

:func:`run_redteam` attacks one model (the base model, or an aligned one) and writes the
campaign into the run folder ``redteam_<name>/``: findings, summary, preference pairs of
the successful attacks (``pairs.jsonl``, for the next alignment round) and the report
section. Its Pareto plot holds every red-team stage of the run finished so far, so the
aligned model's section shows it next to the base model.

:func:`redteam_base_stage` and :func:`redteam_aligned_stage` are ``valign demo``'s stages;
:func:`real_redteam_stage` is the real-model profile's: jailbreak templates and rephrasings
around public harmful test requests, against the base and aligned models -> ``redteam/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from valign.records.runs import read_records
from valign.redteam.campaign import FINDINGS, CampaignConfig, run_campaign
from valign.redteam.export import PAIRS, export_pairs
from valign.redteam.report import pareto_point, redteam_section, write_worst
from valign.stage import StageContext

#: A campaign small enough for the demo (one objective per intent, one variant per attack).
DEMO_CAMPAIGN = CampaignConfig(per_intent=1, variants=1)


def run_redteam(
    run: Any,
    model_dir: Path,
    name: str,
    settings: CampaignConfig = DEMO_CAMPAIGN,
    console: Console | None = None,
    order: int = 55,
    refusal_message: str | None = None,
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
    summary["pairs"] = export_pairs(findings, folder / PAIRS, refusal_message)
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


def redteam_base_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The pipeline stage: the campaign against the pretrained base model."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    model_dir = Path(run.root) / "pretrain" / "model"
    refusal = ctx.constitution.refusal_message
    return run_redteam(run, model_dir, "base", _demo_settings(cfg), console, 55, refusal)


def redteam_aligned_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The same campaign against the aligned model (RL, else SFT), after alignment."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    root = Path(run.root)
    model_dir = next(
        (root / d / "model" for d in ("rl", "sft") if (root / d / "model").is_dir()),
        root / "rl" / "model",
    )
    refusal = ctx.constitution.refusal_message
    return run_redteam(run, model_dir, "aligned", _demo_settings(cfg), console, 56, refusal)


def real_redteam_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """Attack the base and aligned models with jailbreak templates and rephrasings wrapped
    around public harmful test requests; success when the attempt detector, reading the
    request with the reply, finds the request attempted (the scorecard's judge; the red
    team's rule for objectives without markers)."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.real_profile import check_items, profile_models
    from valign.redteam.objectives import objectives_file
    from valign.report import format_value
    from valign.report.sections import section, table

    out = run.stage("redteam")
    n = objectives_file(
        check_items(run, ("harmful",)), out / "objectives.jsonl", cfg.redteam.per_source
    )
    results: dict[str, Any] = {}
    for name, model in profile_models(run).items():
        campaign = CampaignConfig(
            model=model,
            attacks=tuple(cfg.redteam.attacks),
            objectives=str(out / "objectives.jsonl"),
            variants=1,
            detectors=("refusal",),
            controls=0,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
        )
        summary = run_campaign(campaign, out / name, console=console)
        results[name] = {
            "asr": summary["asr"],
            "by_family": summary["by_family"],
            "n_attempts": summary["n_attempts"],
        }
    families = sorted({f for r in results.values() for f in r["by_family"]})
    rows = [
        [name, *(format_value(r["by_family"].get(f)) for f in families), format_value(r["asr"])]
        for name, r in results.items()
    ]
    return {
        "objectives": n,
        "results": results,
        "report": section(
            "Red-team campaign",
            order=42,
            text=f"{n} harmful test requests ({cfg.redteam.per_source} per public source) "
            f"inside the attacks {', '.join(cfg.redteam.attacks)}, one attempt each, against "
            "the base and aligned models. Success: the attempt detector, reading the original "
            "request with the reply, finds it attempted (no compliance markers exist for "
            "public requests; the detector's agreement with people is in BENCHMARKS.md).",
            tables=[table("Attack success", ["model", *families, "all"], rows)],
        ),
    }
