"""``valign values``: show, validate, compose and list constitutions.

Errors in files surface as :class:`~valign.values.errors.ConstitutionError`; the top-level
``valign`` command prints them as one line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from valign import values  # the face: each name loads when a command first uses it

app = typer.Typer(
    no_args_is_help=True,
    help="Constitutions: show, validate, compose.",
    pretty_exceptions_enable=False,
)

OverlayOption = Annotated[
    list[str] | None,
    typer.Option(
        "--overlay",
        help="Overlay to apply: a bundled name (see `valign values list`) or a YAML path. "
        "Repeatable; higher precedence wins, ties go to the later one.",
    ),
]


def _composed(name_or_path: str, overlays: list[str] | None) -> values.Constitution:
    return values.load_composed(name_or_path, overlays or [])


def _summary(constitution: values.Constitution) -> str:
    return f"{len(constitution.principles)} principles, {len(constitution.categories)} categories"


@app.command()
def show(
    name_or_path: Annotated[
        str, typer.Argument(help="A bundled constitution name or a YAML path.")
    ] = "default",
    overlay: OverlayOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model as JSON.")] = False,
) -> None:
    """Show a constitution's categories and principles, with overlays applied."""
    constitution = _composed(name_or_path, overlay)
    if as_json:
        typer.echo(constitution.model_dump_json(indent=2))
        return
    console = Console()
    console.print(f"[bold]{constitution.name}[/] {constitution.version}", highlight=False)
    console.print(constitution.description, highlight=False)
    console.print(f"[dim]Refusal message:[/] {constitution.refusal_message}\n", highlight=False)

    categories = Table(title=f"Categories ({len(constitution.categories)})", title_justify="left")
    categories.add_column("id", style="cyan", no_wrap=True)
    categories.add_column("name")
    categories.add_column("principles", justify="right")
    for category in constitution.categories:
        count = len(constitution.principles_for(category.id))
        categories.add_row(category.id, category.name, str(count))
    console.print(categories)

    principles = Table(title=f"Principles ({len(constitution.principles)})", title_justify="left")
    principles.add_column("id", style="cyan", no_wrap=True)
    principles.add_column("source")
    principles.add_column("categories")
    for principle in constitution.principles:
        principles.add_row(
            principle.id, principle.source, ", ".join(principle.categories) or "[dim](general)[/]"
        )
    console.print(principles)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A constitution or overlay YAML file.")],
    overlay: OverlayOption = None,
    base: Annotated[
        str,
        typer.Option(help="Constitution to apply PATH to when PATH is an overlay."),
    ] = "default",
) -> None:
    """Check a constitution or overlay file (which one is judged by its fields).

    A constitution is composed with any --overlay; an overlay is applied to --base after any
    --overlay, so dangling references are caught too.
    """
    loaded = values.load_file(path)
    overlays = [values.load_overlay(o) for o in overlay or []]
    if isinstance(loaded, values.Overlay):
        composed = values.compose(values.load_constitution(base), [*overlays, loaded])
        typer.echo(f"ok: {_summary(composed)} (overlay {loaded.name!r} on {base!r})")
    else:
        typer.echo(f"ok: {_summary(values.compose(loaded, overlays))}")


@app.command(name="compose")
def compose_command(
    base: Annotated[str, typer.Argument(help="A bundled constitution name or a YAML path.")],
    overlay: Annotated[
        list[str],
        typer.Option(
            "--overlay",
            help="Overlay to apply (bundled name or YAML path); repeatable.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the composed YAML.")],
) -> None:
    """Write BASE with overlays applied as one constitution file."""
    composed = _composed(base, overlay)
    written = values.write_constitution(composed, out)
    typer.echo(f"wrote {written}: {_summary(composed)}")


@app.command(name="list")
def list_command() -> None:
    """List the bundled constitutions and overlays."""
    table = Table(title="Bundled constitutions and overlays", title_justify="left")
    table.add_column("kind")
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("description")
    for name in values.bundled_constitutions():
        constitution = values.load_constitution(name)
        table.add_row(
            "constitution",
            name,
            f"{constitution.name} {constitution.version}: {_summary(constitution)}",
        )
    for name in values.bundled_overlays():
        loaded = values.load_overlay(name)
        table.add_row("overlay", name, f"{loaded.name} (precedence {loaded.precedence})")
    Console().print(table)


@app.command()
def collect(
    votes: Annotated[
        Path,
        typer.Argument(help="Votes: CSV or JSONL with participant, statement, vote."),
    ],
    statements: Annotated[
        Path,
        typer.Option("--statements", "-s", help="Statements: CSV or JSONL with id and text."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the constitution YAML.")],
    base: Annotated[
        str, typer.Option(help="Constitution whose taxonomy (and principles) to build on.")
    ] = "default",
    title: Annotated[str, typer.Option(help="Name of the consultation, for provenance.")] = (
        "collective input"
    ),
    replace: Annotated[
        bool, typer.Option("--replace", help="Keep only the voted principles, not the base's.")
    ] = False,
    groups: Annotated[int, typer.Option(help="Opinion groups (0: choose by silhouette).")] = 0,
    min_agree: Annotated[
        float, typer.Option(help="P(agree) every group must reach for a statement to be kept.")
    ] = 0.6,
    min_votes: Annotated[
        int, typer.Option(help="Votes a participant needs to be placed in a group.")
    ] = 3,
) -> None:
    """Turn votes on candidate principles into a constitution (group-informed consensus)."""
    from valign.values.collect import (
        CollectSettings,
        aggregate,
        read_statements,
        read_votes,
        to_constitution,
    )

    settings = CollectSettings(groups=groups, min_agree=min_agree, min_votes=min_votes)
    agg = aggregate(read_votes(votes), read_statements(statements), settings)
    constitution = to_constitution(agg, values.load_constitution(base), title, replace)
    written = values.write_constitution(constitution, out)
    table = Table(
        title=f"{len(agg.participants)} participants, {len(set(agg.groups.values()))} groups "
        f"(silhouette {agg.silhouette:.2f})",
        title_justify="left",
    )
    table.add_column("statement", style="cyan", no_wrap=True)
    table.add_column("verdict")
    table.add_column("consensus", justify="right")
    table.add_column("P(agree) by group")
    for r in sorted(agg.statements, key=lambda r: -r.consensus):
        verdict = "kept" if r.kept else ("divisive" if r.divisive else "dropped")
        by_group = " ".join(f"{p:.2f}" for p in r.p_agree.values())
        table.add_row(r.statement.id, verdict, f"{r.consensus:.2f}", by_group)
    Console().print(table)
    typer.echo(f"wrote {written}: {len(agg.kept)} principles kept of {len(agg.statements)}")
