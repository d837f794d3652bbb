"""``valign interp``: explain neurons, probe for concepts, steer directions.

Each command reads its settings from their defaults, a YAML file (``--config``) and the
options typed on the command line, in that order; an option left out keeps the file's value.
Each command writes one stage folder (``explain/``, ``probe/``, ``steer/``) into ``--out``
and re-renders ``<out>/interp.html`` from every stage found there, so running the three
into one folder builds one page.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from valign.errors import UserError
from valign.settings import given, load_settings

app = typer.Typer(
    help="Interpretability: neuron explanations, probes and steering.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

MODEL_HELP = "Model folder or hub id (its weights must be on this machine)."
WORLD_HELP = "Microworld folder (default: the seed-0 world, built on demand)."
OUT_HELP = "Run folder; the stage goes in a subfolder and <out>/interp.html is re-rendered."
THREADS_HELP = "Torch CPU threads (0: torch's default; 1 on a shared machine)."

# Options every command takes (Typer reads them as metadata, so they can be shared).
MODEL = typer.Option(None, "--model", help=MODEL_HELP + " Required, here or in --config.")
OUT = typer.Option(Path("runs/interp"), "--out", "-o", help=OUT_HELP)
WORLD = typer.Option(None, "--world", help=WORLD_HELP)
THREADS = typer.Option(0, min=0, help=THREADS_HELP)
CONFIG = typer.Option(
    None,
    "--config",
    help="YAML file of the command's settings (more than these options); the options typed "
    "here override it.",
)


def _floats(spec: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in spec.split(",") if x.strip())
    except ValueError:
        raise UserError(f"not a comma-separated list of numbers: {spec!r}") from None
    if not values:
        raise UserError("no strengths given")
    return values


def _names(spec: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in spec.split(",") if x.strip())


def _is_source(spec: str) -> bool:
    """A local file, or a Hugging Face dataset id to be loaded."""
    from valign.records.sources import is_hub_id

    return Path(spec).is_file() or is_hub_id(spec)


def _done(out: Path, line: str) -> None:
    from valign.interp.page import render_page

    page = render_page(out)
    console = Console(stderr=True)
    console.print(line, highlight=False)
    console.print(f"page: {page}", highlight=False)


@app.command("explain")
def explain(
    ctx: typer.Context,
    model: str | None = MODEL,
    out: Path = OUT,
    world: str | None = WORLD,
    texts: Path | None = typer.Option(
        None, "--texts", help="JSONL with text, messages or prompt per line (default: corpus)."
    ),
    limit: int = typer.Option(2000, min=1, help="Texts to read."),
    sites: str = typer.Option("mlp.*", help="Sites to explain: mlp.*, or e.g. mlp.1,mlp.3."),
    neurons: int = typer.Option(0, min=0, help="Neurons per site (0: all)."),
    explainer: str = typer.Option(
        "concepts", help="'concepts' (the world's labelled concepts) or an explainer model spec."
    ),
    simulator: str | None = typer.Option(None, help="Simulator model spec (default: explainer)."),
    n_top: int = typer.Option(10, min=1, help="Top records to explain from (as many to score)."),
    n_random: int = typer.Option(10, min=0, help="Random records in the scoring set."),
    seed: int = typer.Option(0, help="Seed of the random scoring records."),
    threads: int = THREADS,
    config: Path | None = CONFIG,
) -> None:
    """Capture MLP neuron activations, explain each neuron, score explanations by simulation."""
    from valign.interp.explain_job import ExplainSettings, run_explain

    typed = given(ctx, *ExplainSettings.model_fields)
    if texts is not None and "texts" in typed:
        typed["texts"] = str(texts)
    settings = load_settings(ExplainSettings, config, **typed)
    if settings.texts is not None and not _is_source(settings.texts):
        raise UserError(f"input file not found: {settings.texts}")
    s = run_explain(settings, out)
    _done(
        out,
        f"explained {s['neurons']} neurons: mean score {s['mean_score']:.3f}, "
        f"{s['n_score_ge_0_7']} with score >= 0.7; capture {s['capture']['tokens_per_s']:,.0f} "
        "tokens/s",
    )


@app.command("probe")
def probe(
    ctx: typer.Context,
    model: str | None = MODEL,
    out: Path = OUT,
    world: str | None = WORLD,
    concepts: str = typer.Option(
        "harmful_request,misconception,stereotype", help="Comma-separated concept datasets."
    ),
    sites: str = typer.Option("resid.*", help="Sites to probe: resid.*, or e.g. resid.1,mlp.2."),
    l2: float = typer.Option(1e-3, min=0.0, help="L2 weight decay of the probes."),
    limit: int = typer.Option(0, min=0, help="At most N texts per split (0: all)."),
    threads: int = THREADS,
    config: Path | None = CONFIG,
) -> None:
    """Fit a linear probe per site for each concept; report held-out accuracy by layer."""
    from valign.interp.datasets import DATASETS
    from valign.interp.probe_job import ProbeSettings, run_probe

    typed = given(ctx, *ProbeSettings.model_fields)
    if "concepts" in typed:
        typed["concepts"] = _names(concepts)
    settings = load_settings(ProbeSettings, config, **typed)
    for c in settings.concepts:
        if c not in DATASETS:
            raise UserError(f"unknown concept {c!r}: use {', '.join(DATASETS)}")
    s = run_probe(settings, out)
    best = ", ".join(
        f"{c} {b['test_balanced_accuracy']:.1%} at {b['site']}" for c, b in s["best"].items()
    )
    _done(out, f"best held-out accuracy: {best}")


@app.command("steer")
def steer(
    ctx: typer.Context,
    model: str | None = MODEL,
    out: Path = OUT,
    world: str | None = WORLD,
    site: str = typer.Option("resid.1", help="Residual site to steer."),
    direction: str = typer.Option(
        "refusal", help="'refusal', 'harmful_request', or a direction file from 'interp probe'."
    ),
    method: str = typer.Option("mean_difference", help="'mean_difference' or 'probe'."),
    mode: str = typer.Option("add", help="'add' the direction or 'project' it out."),
    positions: str = typer.Option(
        "prompt", help="'prompt' (steer the prompt only) or 'all' (every generated token too)."
    ),
    strengths: str = typer.Option(
        "0,0.5,0.75,1,1.1,1.25,1.5", help="Comma-separated strengths, in class-mean gaps."
    ),
    conditions: str = typer.Option(
        "always,gated", help="'always' (every request) and/or 'gated' (flagged requests only)."
    ),
    gate_site: str = typer.Option("resid.1", help="Site of the harmful-request gate probe."),
    limit: int = typer.Option(0, min=0, help="Evaluation items per kind (0: all)."),
    threads: int = THREADS,
    config: Path | None = CONFIG,
) -> None:
    """Add or project out a direction at inference and measure the scorecard per strength."""
    from valign.interp.steer_job import SteerSettings, run_steer

    typed = given(ctx, *SteerSettings.model_fields)
    if "strengths" in typed:
        typed["strengths"] = _floats(strengths)
    if "conditions" in typed:
        typed["conditions"] = _names(conditions)
    settings = load_settings(SteerSettings, config, **typed)
    direction = settings.direction
    if direction not in ("refusal", "harmful_request") and not Path(direction).is_file():
        raise UserError(f"direction file not found: {direction}")
    s = run_steer(settings, out)
    h = s["headline"]
    line = "no steered point kept helpfulness within 5 points"
    if h:
        line = (
            f"{h['condition']} at strength {h['strength']:g}: harmful compliance "
            f"{h['harmful_compliance_before']:.1%} -> {h['harmful_compliance_after']:.1%} "
            f"({h['relative_reduction']:.0%} relative), helpfulness "
            f"{h['helpfulness_before']:.1%} -> {h['helpfulness_after']:.1%}"
        )
    _done(out, line)
