"""``valign eval``: the scorecard for any model on the microworld or on a task file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from valign.evals.scorecard import LOWER_IS_BETTER, METRIC_TITLES
from valign.report import format_value


def scorecard_table(card: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    table.add_column("n", justify="right")
    table.add_column("better", justify="center")
    for key, name in METRIC_TITLES.items():
        est = card["metrics"].get(key)
        if est is None:
            continue
        better = (
            "↓"
            if key in LOWER_IS_BETTER
            else ("0" if key.startswith("bias_am") or key == "bias_disambiguated" else "↑")
        )
        table.add_row(name, format_value(est), str(est["n"]), better)
    for fam, est in card["jailbreak_by_family"].items():
        table.add_row(f"  jailbreak: {fam}", format_value(est), str(est["n"] if est else 0), "↓")
    return table


def principles_table(card: dict[str, Any]) -> Table:
    table = Table(title="per principle (pass rate over the items of its categories)")
    table.add_column("principle")
    table.add_column("categories")
    table.add_column("pass rate [95% CI]", justify="right")
    for p in card["principles"]:
        table.add_row(
            p["id"], ", ".join(p["categories"]) or "(benign tasks)", format_value(p["pass_rate"])
        )
    return table


def eval_command(
    model: str = typer.Option(
        ...,
        "--model",
        help="Model folder, hub id, packaged name (smollm2) or http(s)://…/v1 endpoint.",
    ),
    tasks: Path | None = typer.Option(
        None, "--tasks", help="Task file (JSONL of items). Default: the microworld's eval split."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default runs/eval-<model>)."
    ),
    constitution: str = typer.Option(
        "default", help="Constitution name or path, for rows per principle."
    ),
    overlay: list[str] = typer.Option([], "--overlay", help="Overlay name or path (repeatable)."),
    limit: int = typer.Option(0, help="Evaluate only the first N items (0: all)."),
    batch_size: int = typer.Option(32, help="Generation batch size."),
    max_new_tokens: int = typer.Option(64, help="Longest reply, in tokens."),
    seed: int = typer.Option(0, help="World seed when the microworld split is used."),
) -> None:
    """Score a model: harm, jailbreaks, over-refusal, helpfulness, truth, bias, power-seeking."""
    from valign.evals.run import EvalSettings, run_eval  # torch loads only when needed

    settings = EvalSettings(
        model=model,
        tasks=str(tasks) if tasks else None,
        constitution=constitution,
        overlays=tuple(overlay),
        limit=limit,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    out = out or Path("runs") / f"eval-{Path(model.rstrip('/')).name or 'model'}"
    console = Console()
    card = run_eval(settings, out, console=console)
    console.print(scorecard_table(card, f"scorecard: {model}"))
    if card["principles"]:
        console.print(principles_table(card))
    console.print(f"wrote {out / 'scorecard.json'} and {out / 'responses.jsonl'}")
