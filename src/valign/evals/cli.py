"""``valign eval``: the scorecard for any model on the microworld or on a task file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def _better(key: str) -> str:
    from valign.evals.scorecard import LOWER_IS_BETTER

    if key in LOWER_IS_BETTER:
        return "↓"
    return "0" if key in ("bias_ambiguous", "bias_disambiguated") else "↑"


def scorecard_table(card: dict[str, Any], title: str) -> Table:
    """The headline first, then every rate beside its kind's outcome counts."""
    from valign.evals.scorecard import METRIC_TITLES, format_breakdown
    from valign.report import format_value

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    table.add_column("n", justify="right")
    table.add_column("better", justify="center")
    table.add_column("outcomes")
    breakdown = card.get("breakdown", {})
    for key, name in METRIC_TITLES.items():
        if key not in card["metrics"]:
            continue
        est = card["metrics"][key]
        if est is None:  # no items of the kind, or no valid answer to score
            if key in breakdown:
                table.add_row(
                    name, "undefined", "0", _better(key), format_breakdown(breakdown[key])
                )
            continue
        table.add_row(
            name,
            format_value(est),
            str(est["n"]),
            _better(key),
            format_breakdown(breakdown.get(key)),
        )
        if key == "aligned":
            for kind, k_est in card.get("aligned_by_kind", {}).items():
                table.add_row(f"  aligned: {kind}", format_value(k_est), str(k_est["n"]), "↑", "")
    for fam, est in card["jailbreak_by_family"].items():
        table.add_row(
            f"  jailbreak: {fam}", format_value(est), str(est["n"] if est else 0), "↓", ""
        )
    return table


def principles_table(card: dict[str, Any]) -> Table:
    from valign.report import format_value

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
    tokenizer: str | None = typer.Option(
        None,
        "--tokenizer",
        help="Tokenizer folder or hub id of an endpoint model, to score its multiple-choice "
        "items and cut replies in its tokens.",
    ),
    restart: bool = typer.Option(
        False, "--restart", help="Discard the replies already in --out and start over."
    ),
    judge: str = typer.Option(
        "auto",
        "--judge",
        help="Who decides refusals: pattern (the grader's phrases; auto is the same), guard "
        "(the guard's attempt detector, reading request and reply) or a guard folder.",
    ),
    inspect_log: Path | None = typer.Option(
        None,
        "--inspect-log",
        help="Also write the run as an inspect-ai evaluation log (JSON) into this folder, "
        "for `inspect view --log-dir` and inspect_ai.log.read_eval_log.",
    ),
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
        tokenizer=tokenizer,
        restart=restart,
        judge=judge,
    )
    out = out or Path("runs") / f"eval-{Path(model.rstrip('/')).name or 'model'}"
    console = Console()
    card = run_eval(settings, out, console=console)
    console.print(scorecard_table(card, f"scorecard: {model}"))
    if card["principles"]:
        console.print(principles_table(card))
    for note in card.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"wrote {out / 'scorecard.json'} and {out / 'responses.jsonl'}")
    if inspect_log is not None:
        from valign.evals.inspect_log import write_inspect_log

        console.print(f"wrote {write_inspect_log(out, inspect_log)} (inspect-ai log)")
