"""``valign redteam``: run a campaign against any model, or list the registered attacks.

Settings: the defaults of :class:`~valign.redteam.campaign.CampaignConfig`, then a YAML
file (``--config``), then the options given on the command line (highest).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from valign.errors import UserError
from valign.settings import load_settings


def list_attacks(console: Console) -> None:
    from valign.redteam.registry import get_attack, registered_attacks

    table = Table("attack", "family", "turns", "default", "source", "goal", show_lines=False)
    for name in registered_attacks():
        m = get_attack(name).meta
        turns = m.turns + (", adaptive" if m.adaptive else "")
        table.add_row(name, m.family, turns, "yes" if m.default else "", m.source, m.goal)
    console.print(table)


def redteam_command(
    model: str | None = typer.Option(
        None, "--model", help="Target: model folder, hub id, or http(s)://…/v1#name endpoint."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Campaign folder (resumed if it exists)."
    ),
    attacks: list[str] | None = typer.Option(
        None,
        "--attacks",
        help="Attack names or families, comma-separated or repeated; "
        "'default' or 'all'. See --list-attacks.",
    ),
    objectives: str | None = typer.Option(
        None,
        "--objectives",
        help="'microworld', 'constitution[:NAME]', or a JSONL or Parquet file or a Hugging Face "
        "dataset id of objectives.",
    ),
    attacker: str | None = typer.Option(
        None,
        "--attacker",
        help="Red-team model for generated and iterative attacks, "
        "or 'mutate' (built in, the default).",
    ),
    judge: str | None = typer.Option(None, "--judge", help="LLM judge model (optional)."),
    guard: str | None = typer.Option(None, "--guard", help="Guard for the guard detector."),
    detectors: str | None = typer.Option(
        None, "--detectors", help="Comma-separated: grader,guard,refusal,keyword,judge."
    ),
    variants: int | None = typer.Option(None, help="Attempts per objective and attack."),
    max_rounds: int | None = typer.Option(None, help="Most rounds of an adaptive attempt."),
    per_intent: int | None = typer.Option(None, help="Microworld objectives per intent."),
    batch_size: int | None = typer.Option(None, help="Generation batch size (local models)."),
    concurrency: int | None = typer.Option(None, help="Requests in flight (endpoints)."),
    max_new_tokens: int | None = typer.Option(None, help="Longest reply of the target."),
    limit: int | None = typer.Option(None, help="Run only the first N attempts (0: all)."),
    seed: int | None = typer.Option(None, help="Seed of objectives, attacks and sampling."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of campaign settings."),
    list_only: bool = typer.Option(False, "--list-attacks", help="List the attacks and exit."),
) -> None:
    """Attack a model with every registered attack; write findings, summary, pairs, report."""
    console = Console()
    if list_only:
        list_attacks(console)
        return
    from valign.redteam.campaign import CampaignConfig

    cfg = load_settings(
        CampaignConfig,
        config,
        **{
            "model": model,
            "attacks": tuple(attacks) if attacks else None,
            "objectives": objectives,
            "attacker": attacker,
            "judge": judge,
            "guard": guard,
            "detectors": tuple(d.strip() for d in detectors.split(",")) if detectors else None,
            "variants": variants,
            "max_rounds": max_rounds,
            "per_intent": per_intent,
            "batch_size": batch_size,
            "concurrency": concurrency,
            "max_new_tokens": max_new_tokens,
            "limit": limit,
            "seed": seed,
        },
    )
    if not cfg.model:
        raise UserError("no target model: give --model PATH_OR_ENDPOINT")
    if out is None:
        raise UserError("no campaign folder: give --out DIR")
    from valign.records.runs import read_records
    from valign.redteam.campaign import FINDINGS, run_campaign
    from valign.redteam.export import PAIRS, export_pairs
    from valign.redteam.report import render_campaign_report

    summary = run_campaign(cfg, out, console=console)
    pairs = export_pairs(read_records(out / FINDINGS), out / PAIRS)
    report = render_campaign_report(out, summary)
    table = Table("attack", "attack success [95% CI]", "n")
    for name, v in summary["by_attack"].items():
        table.add_row(name, f"{v['value']:.1%} [{v['low']:.1%}, {v['high']:.1%}]", str(v["n"]))
    console.print(table)
    asr, tput = summary["asr"], summary.get("throughput", {})
    console.print(
        f"attack success {asr['value']:.1%} over {summary['n_attempts']} attempts; "
        f"{tput.get('attempts_per_s', 0):.1f} attempts/s; {pairs} preference pairs\n"
        f"wrote {out / FINDINGS}, {out / 'summary.json'}, {out / PAIRS}, {report}",
        highlight=False,
    )
