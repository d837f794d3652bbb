"""``valign feedback``: serve the rating app, manage accounts and projects, import, export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from valign.errors import UserError

if TYPE_CHECKING:
    from valign.feedback.human.store import Store
    from valign.values import Constitution

app = typer.Typer(
    help="Human feedback: the rating web app, its accounts, projects, imports and exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DB_HELP = (
    "Database: a SQLite file path or a URL (postgresql://user@host/db). Env: VALIGN_FEEDBACK_DB."
)
DEFAULT_DB = os.environ.get("VALIGN_FEEDBACK_DB", "feedback.db")
err = Console(stderr=True, highlight=False)


def _store(db: str, write: bool = False) -> Store:
    """The database, migrated; with ``write``, checked to take a write and read it back."""
    from valign.feedback.human.store import Store

    store = Store(db)
    if write:
        store.check()
    return store


def _constitution(name: str | None) -> Constitution:
    from valign.values import load_constitution

    return load_constitution(name or "default")


@app.command("init")
def init(db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP)) -> None:
    """Create the database, or migrate it to the newest schema."""
    store = _store(db, write=True)
    err.print(f"database ready: {store.safe_url} ({len(store.tables())} tables)")


@app.command("user")
def user(
    name: str = typer.Argument(..., help="Account name."),
    role: str = typer.Option("rater", "--role", help="rater or admin."),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="VALIGN_FEEDBACK_PASSWORD",
        help="At least 8 characters (prompted if omitted).",
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Add an account, or reset its password and role (which logs it out everywhere)."""
    from valign.feedback.human.accounts import add_user

    add_user(_store(db, write=True), name, password, role)
    err.print(f"account {name} ({role}) saved")


@app.command("project")
def project(
    name: str = typer.Argument(..., help="Project name."),
    kind: str = typer.Option("pairwise", help="pairwise, rating, demonstration or redteam."),
    overlap: int = typer.Option(3, help="Raters per item."),
    gold_every: int = typer.Option(5, help="A gold question after every N items (0: never)."),
    assist_rate: float = typer.Option(0.0, help="Share of assignments showing the AI critique."),
    likert_points: int = typer.Option(7, help="Points of the rating scale."),
    instructions: str = typer.Option("", help="Shown to raters above each task."),
    principles: str | None = typer.Option(
        None, help="Comma-separated principle ids to tag (default: all of the constitution's)."
    ),
    constitution: str | None = typer.Option(None, help="Constitution name or file."),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Create a project (a queue of items of one task kind)."""
    from pydantic import ValidationError

    from valign.feedback.human.projects import create_project
    from valign.feedback.human.settings import ProjectSettings

    cons = _constitution(constitution)
    ids = cons.principle_ids if principles is None else [p for p in principles.split(",") if p]
    unknown = sorted(set(ids) - set(cons.principle_ids))
    if unknown:
        raise UserError(f"unknown principle(s) in {cons.name}: {', '.join(unknown)}")
    try:
        settings = ProjectSettings(
            name=name,
            kind=kind,
            overlap=overlap,
            gold_every=gold_every,
            assist_rate=assist_rate,
            likert_points=likert_points,
            instructions=instructions,
            principles=ids,
            categories=cons.category_ids if kind == "redteam" else [],
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        raise UserError(f"{'.'.join(map(str, e['loc']))}: {e['msg']}") from None
    create_project(_store(db, write=True), settings)
    err.print(f"project {name} ({kind}) created")


@app.command("import")
def import_items(
    project: str = typer.Option(..., "--project", help="Project to fill."),
    src: Path = typer.Option(..., "--in", help="JSONL items (see docs/feedback.md)."),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Import items to judge from a JSONL file (all or nothing)."""
    from valign.feedback.human.projects import add_items, get_project, read_items

    store = _store(db, write=True)
    n = add_items(store, project, read_items(src, get_project(store, project)))
    err.print(f"imported {n} items into {project}")


@app.command("sample")
def sample(
    project: str = typer.Option(..., "--project", help="Project to fill."),
    model: str = typer.Option(..., "--model", help="Model folder, hub id or endpoint URL."),
    prompts: Path = typer.Option(
        ..., "--prompts", help="JSONL with 'prompt' (a string or messages) per line."
    ),
    max_new_tokens: int = typer.Option(128, help="Longest reply, in tokens."),
    temperature: float = typer.Option(0.8, help="Sampling temperature (two samples differ)."),
    seed: int = typer.Option(0, help="Sampling seed."),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Import items sampled straight from a model (two replies per prompt for pairwise)."""
    from valign.feedback.human.projects import (
        add_items,
        get_project,
        items_from_model,
        load_json_line,
        parse_item,
        read_text_file,
    )
    from valign.models import GenerationConfig, load_model

    store = _store(db, write=True)
    proj = get_project(store, project)
    texts = []
    for lineno, line in enumerate(read_text_file(prompts, "prompt file").splitlines(), 1):
        if line.strip():
            raw = load_json_line(line, f"{prompts}:{lineno}")
            if not isinstance(raw, dict) or "prompt" not in raw:
                raise UserError(f"{prompts}:{lineno}: expected a JSON object with 'prompt'")
            texts.append(raw["prompt"])
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    raw = items_from_model(load_model(model), texts, proj.kind, cfg)
    rows = [parse_item(r, proj, f"sample {i}") for i, r in enumerate(raw)]
    err.print(f"imported {add_items(store, project, rows)} items from {model} into {project}")


@app.command("export")
def export(
    project: str = typer.Option(..., "--project", help="Project to export."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the files (created)."),
    mode: str = typer.Option("each", help="each: a row per judgment; majority: a row per item."),
    min_gold_accuracy: float | None = typer.Option(
        None, help="Leave out raters whose accuracy on gold questions is below this."
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Write comparisons.jsonl (or demonstrations, ratings, attempts) and agreement.json."""
    from valign.feedback.human.export import export_project

    if mode not in ("each", "majority"):
        raise UserError("--mode must be 'each' or 'majority'")
    written = export_project(_store(db), project, out, mode, min_gold_accuracy)  # type: ignore[arg-type]
    for name, n in written.items():
        err.print(f"{out / name}: {n} line(s)" if name.endswith("l") else f"{out / name}")


@app.command("stats")
def stats(
    project: str = typer.Option(..., "--project", help="Project."),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Agreement, gold accuracy and the effect of AI assistance, as a table."""
    from valign.feedback.human.quality import project_stats

    s = project_stats(_store(db), project)
    out = Console()
    alpha = "–" if s.alpha is None else f"{s.alpha:.3f}"
    out.print(
        f"{s.project} ({s.kind}): {s.items} items ({s.gold_items} gold), {s.judgments} "
        f"judgments, {s.complete_items} complete, alpha ({s.alpha_metric}) {alpha}"
    )
    table = Table("group", "judgments", "gold acc.", "agrees w/ majority", "median s")
    fmt = lambda x: "–" if x is None else f"{x:.2f}"  # noqa: E731
    for name, g in [*s.raters.items(), *s.assistance.items()]:
        table.add_row(
            name,
            str(g.judgments),
            fmt(g.gold_accuracy),
            fmt(g.majority_agreement),
            fmt(g.median_seconds),
        )
    out.print(table)


@app.command("serve")
def serve(
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8200, help="Port."),
    constitution: str | None = typer.Option(None, help="Constitution for principle texts."),
    assist_model: str | None = typer.Option(
        None, help="Model whose critique is shown to raters in projects with an AI help share."
    ),
    redteam_model: str | None = typer.Option(
        None, help="Model red-team raters can send their attempts to from the page."
    ),
    secure_cookies: bool = typer.Option(False, help="Secure cookies (behind HTTPS)."),
    max_body_bytes: int = typer.Option(256_000, help="Largest form body accepted."),
    seed: int | None = typer.Option(None, help="Seed of order and assistance draws."),
    forwarded_allow_ips: str = typer.Option(
        "",
        help="Comma-separated proxies (addresses, networks or '*') trusted to name the "
        "client in X-Forwarded-For; failed logins are then also counted per client address. "
        "Default: none (the header is ignored).",
    ),
) -> None:
    """Serve the rating app (migrates and checks the database first)."""
    import uvicorn
    from pydantic import ValidationError

    from valign.feedback.human.app import create_app
    from valign.feedback.human.assist import model_critic, model_responder
    from valign.feedback.human.settings import ServerSettings

    try:
        settings = ServerSettings(
            secure_cookies=secure_cookies,
            max_body_bytes=max_body_bytes,
            seed=seed,
            forwarded_allow_ips=tuple(
                x.strip() for x in forwarded_allow_ips.split(",") if x.strip()
            ),
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        raise UserError(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}") from None
    store = _store(db, write=True)
    cons = _constitution(constitution)
    critic = responder = None
    if assist_model or redteam_model:
        from valign.models import load_model

        if assist_model:
            critic = model_critic(load_model(assist_model), [p.text for p in cons.principles])
        if redteam_model:
            responder = model_responder(load_model(redteam_model))
    api = create_app(
        store,
        settings,
        critic=critic,
        responder=responder,
        principle_texts={p.id: p.text for p in cons.principles},
        category_names={c.id: c.name for c in cons.categories},
    )
    err.print(f"valign feedback on http://{host}:{port} (database {store.safe_url})")
    # The app reads X-Forwarded-For itself, from settings.forwarded_allow_ips only: uvicorn's
    # own proxy handling (which trusts 127.0.0.1 by default) stays off.
    uvicorn.run(api, host=host, port=port, log_level="warning", proxy_headers=False)
