"""The microworld's stage of ``valign demo``: the seeded world's splits -> ``world/``."""

from __future__ import annotations

from typing import Any

from valign.report.sections import section, table
from valign.stage import StageContext
from valign.world.splits import WorldConfig, build_world


def world_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """Build the microworld's splits with the demo's seed and sizes."""
    run, cfg = ctx.run, ctx.cfg
    wcfg = WorldConfig(
        seed=cfg.seed, corpus_dialogues=cfg.corpus_dialogues, eval_per_kind=cfg.eval_per_kind
    )
    summary = build_world(run.stage("world"), wcfg)
    rows = [[name, info["lines"], info["sha256"][:16]] for name, info in summary["files"].items()]
    summary["report"] = section(
        "The microworld",
        order=10,
        text="A seeded assistant world with exact labels. The evaluation split uses surface "
        "templates and people, places and organisations that no training split contains.",
        tables=[table("Splits", ["file", "lines", "sha256"], rows)],
    )
    return summary
