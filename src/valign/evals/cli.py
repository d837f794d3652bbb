"""``valign eval``: the scorecard for any model on the microworld or on a task file.

Its options are written from :class:`~valign.evals.settings.EvalSettings` (one per field,
help from the field's description; ``valign.settings.settings_options``), so the command
line, the YAML file of ``--config`` and the Python API name the same settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from valign.evals.settings import EvalSettings
from valign.settings import load_settings, settings_options


def _better(key: str) -> str:
    from valign.evals.scorecard import better

    return {"lower": "↓", "higher": "↑"}.get(better(key), "0")


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


@settings_options(EvalSettings, names={"overlays": "overlay"})
def eval_command(
    overrides: dict[str, Any],
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default runs/eval-<model>)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file of these settings (EvalSettings); the options typed here override it.",
    ),
    inspect_log: Path | None = typer.Option(
        None,
        "--inspect-log",
        help="Also write the run as an inspect-ai evaluation log (JSON) into this folder, "
        "for `inspect view --log-dir` and inspect_ai.log.read_eval_log.",
    ),
) -> None:
    """Score a model: harm, jailbreaks, over-refusal, helpfulness, truth, bias, power-seeking.

    Settings: EvalSettings' defaults < the --config file < the options typed here. A model
    folder that valign trained gets the scorecard's summary in its model card (README.md).
    """
    from valign.evals.run import run_eval  # torch loads only when needed

    settings = load_settings(EvalSettings, config, **overrides)
    model = settings.model
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
