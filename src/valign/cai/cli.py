"""``valign cai``: the evaluator, the LLM judge, critique-revision, AI labels, the whole stage.

Every command reads one settings file (``--config``, a
:class:`~valign.cai.settings.CAIConfig`: the stage's settings, the constitution and the
judge), each its part; the options typed on the command line override it, and an option
left out keeps the file's value (the defaults shown in ``--help`` are the settings').
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from valign.errors import UserError
from valign.settings import given, load_settings

app = typer.Typer(
    no_args_is_help=True,
    help="Constitutional AI: evaluator, judge, critique-revision, RLAIF.",
    pretty_exceptions_enable=False,
)

ConstitutionOption = Annotated[
    str, typer.Option("--constitution", "-c", help="Constitution: bundled name or YAML path.")
]
OverlayOption = Annotated[
    list[str] | None,
    typer.Option("--overlay", help="Overlay to compose (repeatable; precedence decides)."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML file of CAIConfig (the stage's settings, constitution, judge); the "
        "options typed here override it.",
    ),
]
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seed of every random choice of the command (sampling, "
        "training, the principles drawn).",
    ),
]
PREFS_HELP = (
    "Labelled comparisons: JSONL or Parquet in valign's or TRL's preference format, or a "
    "Hugging Face dataset id (org/name[:split])."
)
PROMPTS_HELP = (
    "Prompts: a prompt, demonstration or comparison file (JSONL or Parquet, TRL's formats "
    "too) or a Hugging Face dataset id; replies and labels in it are not used."
)

# Settings every seed option sets: each command uses the ones of its phases.
SEEDS = (
    "evaluator.seed",
    "sampling.seed",
    "critique.seed",
    "judge.seed",
    "sft.seed",
    "dpo.seed",
    "rl.seed",
)


def _config(ctx: typer.Context, path: Path | None, **options: str) -> Any:
    """The command's CAIConfig: defaults < ``path`` < the typed options. ``options`` maps
    each parameter to its setting (``n_revisions="critique.n_revisions"``); ``seed`` and
    ``threads`` set every seed and every trainer's threads."""
    from valign.cai.settings import CAIConfig

    typed = given(ctx)
    overrides: dict[str, Any] = {key: typed[name] for name, key in options.items() if name in typed}
    if "constitution" in typed:
        overrides["constitution"] = typed["constitution"]
    if typed.get("overlay"):
        overrides["overlays"] = tuple(typed["overlay"])
    if "seed" in typed:
        overrides |= dict.fromkeys(SEEDS, typed["seed"])
    if "threads" in typed:
        overrides |= dict.fromkeys(("sft.threads", "dpo.threads", "rl.threads"), typed["threads"])
    return load_settings(CAIConfig, path, **overrides)


def _constitution(cfg: Any) -> Any:
    from valign.values import load_composed

    return load_composed(cfg.constitution, list(cfg.overlays))


def _agreement_table(report: dict[str, Any], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("group", "n", "accuracy", "kappa", "ECE"):
        table.add_column(col, justify="left" if col == "group" else "right")
    rows = [("overall", report["overall"]), *report["groups"].items()]
    for name, r in rows:
        acc = r["accuracy"]
        table.add_row(
            name,
            str(r["n"]),
            f"{acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}]",
            "n/a" if r["kappa"] is None else f"{r['kappa']:.3f}",
            f"{r['ece']:.3f}",
        )
    Console().print(table)


@app.command()
def evaluator(
    ctx: typer.Context,
    comparisons: Annotated[str, typer.Argument(help=PREFS_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Evaluator folder to write.")],
    seed_size: Annotated[
        int, typer.Option(help="Comparisons to learn from; the rest measure agreement.")
    ] = 1000,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
) -> None:
    """Train the evaluator on the constitution's examples and a labelled seed."""
    from valign.cai.pipeline import evaluator_agreement, fit_evaluator
    from valign.records.comparisons import load_comparisons

    cfg = _config(ctx, config, seed_size="seed_size")
    c = _constitution(cfg)
    ev, n = fit_evaluator(c, comparisons, out, cfg)
    typer.echo(f"wrote {out}: trained on {n} comparisons and the constitution's examples")
    heldout = load_comparisons(comparisons)[cfg.seed_size :]
    if heldout:
        report = evaluator_agreement(ev, c, heldout, limit=len(heldout))
        (out / "agreement.json").write_text(json.dumps(report, indent=2))
        _agreement_table(report, f"agreement on {len(heldout)} held-out comparisons")


@app.command()
def judge(
    ctx: typer.Context,
    pairs: Annotated[str, typer.Argument(help="Comparisons to judge. " + PREFS_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="AI-labelled comparisons to write.")],
    model: Annotated[
        str | None, typer.Option(help="Judge model: folder, hub id or endpoint URL.")
    ] = None,
    evaluator_dir: Annotated[
        Path | None, typer.Option("--evaluator", help="A trained evaluator folder instead.")
    ] = None,
    cot: Annotated[bool, typer.Option("--cot", help="Reason before choosing.")] = False,
    order_averaging: Annotated[
        bool, typer.Option(help="Judge both orders and average (cancels position bias).")
    ] = True,
    limit: Annotated[int, typer.Option(help="Only the first N pairs (0: all).")] = 0,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
) -> None:
    """Label pairs with the LLM judge or the evaluator; report agreement and position bias."""
    from valign.cai.evaluator import TrainedEvaluator, pair_items
    from valign.cai.judge import LLMJudge, position_bias
    from valign.feedback.agreement import agreement
    from valign.models import load_model
    from valign.records.comparisons import Comparison, load_comparisons, write_comparisons

    if (model is None) == (evaluator_dir is None):
        raise UserError("give exactly one of --model and --evaluator")
    cfg = _config(
        ctx, config, cot="judge.chain_of_thought", order_averaging="judge.order_averaging"
    )
    c = _constitution(cfg)
    rows = load_comparisons(pairs)
    rows = rows[:limit] if limit else rows
    items, truth = pair_items(rows, c, seed=1)
    the_judge: Any
    if evaluator_dir is not None:
        the_judge = TrainedEvaluator.load(evaluator_dir)
    else:
        the_judge = LLMJudge(load_model(str(model)), c, cfg.judge)
    verdicts = the_judge.compare(items)
    labelled = [
        Comparison(
            id=row.id,
            prompt=row.prompt,
            chosen=item.a if v.p_a >= 0.5 else item.b,
            rejected=item.b if v.p_a >= 0.5 else item.a,
            source="ai",
            rater=the_judge.name,
            principles=[v.principle],
            category=row.category,
            kind=row.kind,
            p_chosen=round(max(v.p_a, 1 - v.p_a), 6),
        )
        for row, item, v in zip(rows, items, verdicts, strict=True)
    ]
    write_comparisons(out, labelled)
    report = agreement(verdicts, truth)
    _agreement_table(report, f"agreement with the labels of {pairs}")
    if cfg.judge.order_averaging and evaluator_dir is None:
        bias = position_bias(verdicts)
        typer.echo(
            f"position bias: verdict flips with the order on {bias.flip_rate:.1%} of pairs; "
            f"P(first slot) = {bias.first_slot:.3f}"
        )
    typer.echo(f"wrote {out}: {len(labelled)} AI-labelled comparisons")


@app.command()
def revise(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model that critiques and revises.")],
    prompts: Annotated[str, typer.Option(help=PROMPTS_HELP)],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for traces.jsonl and sft.jsonl.")
    ],
    evaluator_dir: Annotated[
        Path | None,
        typer.Option("--evaluator", help="Keep revisions only when the evaluator prefers them."),
    ] = None,
    n_revisions: Annotated[int, typer.Option(help="Critique-revision steps.")] = 1,
    limit: Annotated[int, typer.Option(help="Only the first N prompts (0: all).")] = 0,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
) -> None:
    """Critique and revise the model's answers under the constitution; write SFT data."""
    from valign.cai.critique import critique_revise, write_sft, write_traces
    from valign.cai.evaluator import TrainedEvaluator
    from valign.cai.sampling import prompts_from
    from valign.cai.supervised import relevant_principles, revision_stats
    from valign.models import GenerationConfig, load_model

    cfg = _config(ctx, config, n_revisions="critique.n_revisions")
    c = _constitution(cfg)
    convs = prompts_from(prompts, limit)
    chat = load_model(model)
    first = chat.generate(convs, GenerationConfig(max_new_tokens=cfg.critique.max_new_tokens))
    ev = TrainedEvaluator.load(evaluator_dir) if evaluator_dir else None
    traces = critique_revise(
        chat,
        c,
        convs,
        first,
        cfg.critique,
        principles=relevant_principles(ev, convs, cfg.critique_principles) if ev else None,
        scorer=ev.score if ev else None,
    )
    write_traces(out / "traces.jsonl", traces)
    n = write_sft(out / "sft.jsonl", traces)
    typer.echo(json.dumps(revision_stats(traces)))
    typer.echo(f"wrote {out / 'sft.jsonl'}: {n} demonstrations")


@app.command()
def label(
    ctx: typer.Context,
    policy: Annotated[str, typer.Option(help="The policy whose samples are compared.")],
    prompts: Annotated[str, typer.Option(help=PROMPTS_HELP)],
    evaluator_dir: Annotated[Path, typer.Option("--evaluator", help="Trained evaluator folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="AI-labelled comparisons to write.")],
    n: Annotated[int, typer.Option(help="Replies sampled per prompt.")] = 4,
    min_confidence: Annotated[float, typer.Option(help="Drop less certain pairs.")] = 0.8,
    limit: Annotated[int, typer.Option(help="Only the first N prompts (0: all).")] = 0,
    seed: SeedOption = 0,
    config: ConfigOption = None,
) -> None:
    """RLAIF labels: the evaluator compares pairs sampled from the policy."""
    from valign.cai.evaluator import TrainedEvaluator
    from valign.cai.rlaif import rlaif_labels
    from valign.cai.sampling import prompts_from
    from valign.records.comparisons import write_comparisons

    cfg = _config(ctx, config, n="sampling.n", min_confidence="min_confidence")
    ev = TrainedEvaluator.load(evaluator_dir)
    rows = rlaif_labels(
        policy, prompts_from(prompts, limit), ev, cfg.sampling, cfg.min_confidence, ev.score
    )
    write_comparisons(out, rows)
    typer.echo(f"wrote {out}: {len(rows)} AI-labelled comparisons")


@app.command()
def run(
    ctx: typer.Context,
    policy: Annotated[str, typer.Option(help="Starting policy (a model folder).")],
    seed_comparisons: Annotated[
        str,
        typer.Option(
            "--seed-comparisons",
            help="The evaluator's labelled seed: its first --seed-size comparisons train it, "
            "the rest measure its agreement. " + PREFS_HELP,
        ),
    ],
    prompts: Annotated[str, typer.Option(help=PROMPTS_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Stage folder (resumed if it exists).")],
    seed_size: Annotated[int, typer.Option(help="Seed comparisons for the evaluator.")] = 1000,
    n_prompts: Annotated[
        int, typer.Option("--prompts-per-phase", help="Prompts per phase.")
    ] = 2000,
    supervised: Annotated[bool, typer.Option(help="Run supervised CAI.")] = True,
    rlaif: Annotated[bool, typer.Option(help="Run RLAIF (DPO on AI labels).")] = True,
    threads: Annotated[int, typer.Option(help="CPU threads for torch (0: default).")] = 0,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
) -> None:
    """The whole stage: evaluator, supervised CAI, RLAIF; then `valign eval` the model."""
    from valign.cai.pipeline import cai_stage

    cfg = _config(ctx, config, seed_size="seed_size", n_prompts="prompts")
    record = cai_stage(
        out,
        policy,
        seed_comparisons,
        prompts,
        _constitution(cfg),
        cfg,
        supervised,
        rlaif,
    )
    overall = record["agreement"].get("overall", {})
    if overall:
        typer.echo(f"evaluator agreement: {overall['accuracy']['value']:.3f} on held-out labels")
    typer.echo(f"policy: {record['model_dir']}")
