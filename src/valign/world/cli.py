"""``valign world``: build the microworld's splits."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from valign.world.splits import WorldConfig, build_world

app = typer.Typer(no_args_is_help=True, help="The microworld: a seeded test bed with exact labels.")


@app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the splits into."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    eval_per_kind: int = typer.Option(WorldConfig.eval_per_kind, help="Evaluation items per kind."),
    corpus_dialogues: int = typer.Option(
        WorldConfig.corpus_dialogues, help="Chat episodes in the pretraining corpus."
    ),
) -> None:
    """Write corpus.jsonl, sft.jsonl, preferences.jsonl, eval.jsonl and world.json."""
    cfg = WorldConfig(seed=seed, eval_per_kind=eval_per_kind, corpus_dialogues=corpus_dialogues)
    summary = build_world(out, cfg)
    table = Table(title=f"microworld (seed {seed}) -> {out}")
    table.add_column("file")
    table.add_column("lines", justify="right")
    table.add_column("sha256")
    for name, info in summary["files"].items():
        table.add_row(name, str(info["lines"]), info["sha256"][:16])
    Console().print(table)
