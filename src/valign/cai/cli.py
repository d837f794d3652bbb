"""``valign cai``: the evaluator, the LLM judge, critique-revision, AI labels, the whole stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from valign.errors import UserError

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


def _constitution(name: str, overlays: list[str] | None) -> Any:
    from valign.values import load_composed

    return load_composed(name, overlays or [])


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
    seed: Annotated[Path, typer.Argument(help="Labelled comparisons (JSONL).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Evaluator folder to write.")],
    seed_size: Annotated[
        int, typer.Option(help="Comparisons to learn from; the rest measure agreement.")
    ] = 1000,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
) -> None:
    """Train the evaluator on the constitution's examples and a labelled seed."""
    from valign.cai.pipeline import evaluator_agreement, fit_evaluator
    from valign.cai.settings import CAISettings
    from valign.records.comparisons import load_comparisons

    c = _constitution(constitution, overlay)
    ev, n = fit_evaluator(c, seed, out, CAISettings(seed_size=seed_size))
    typer.echo(f"wrote {out}: trained on {n} comparisons and the constitution's examples")
    heldout = load_comparisons(seed)[seed_size:]
    if heldout:
        report = evaluator_agreement(ev, c, heldout, limit=len(heldout))
        (out / "agreement.json").write_text(json.dumps(report, indent=2))
        _agreement_table(report, f"agreement on {len(heldout)} held-out comparisons")


@app.command()
def judge(
    pairs: Annotated[Path, typer.Argument(help="Comparisons to judge (JSONL).")],
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
) -> None:
    """Label pairs with the LLM judge or the evaluator; report agreement and position bias."""
    from valign.cai.evaluator import TrainedEvaluator, pair_items
    from valign.cai.judge import JudgeSettings, LLMJudge, position_bias
    from valign.feedback.agreement import agreement
    from valign.models import load_model
    from valign.records.comparisons import Comparison, load_comparisons, write_comparisons

    if (model is None) == (evaluator_dir is None):
        raise UserError("give exactly one of --model and --evaluator")
    c = _constitution(constitution, overlay)
    rows = load_comparisons(pairs)
    rows = rows[:limit] if limit else rows
    items, truth = pair_items(rows, c, seed=1)
    the_judge: Any
    if evaluator_dir is not None:
        the_judge = TrainedEvaluator.load(evaluator_dir)
    else:
        settings = JudgeSettings(chain_of_thought=cot, order_averaging=order_averaging)
        the_judge = LLMJudge(load_model(str(model)), c, settings)
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
    _agreement_table(report, f"agreement with the labels of {pairs.name}")
    if order_averaging and evaluator_dir is None:
        bias = position_bias(verdicts)
        typer.echo(
            f"position bias: verdict flips with the order on {bias.flip_rate:.1%} of pairs; "
            f"P(first slot) = {bias.first_slot:.3f}"
        )
    typer.echo(f"wrote {out}: {len(labelled)} AI-labelled comparisons")


@app.command()
def revise(
    model: Annotated[str, typer.Option(help="The model that critiques and revises.")],
    prompts: Annotated[Path, typer.Option(help="Prompt, demonstration or comparison file.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for traces.jsonl and sft.jsonl.")
    ],
    evaluator_dir: Annotated[
        Path | None,
        typer.Option("--evaluator", help="Keep revisions only when the evaluator prefers them."),
    ] = None,
    n_revisions: Annotated[int, typer.Option(help="Critique-revision steps.")] = 2,
    limit: Annotated[int, typer.Option(help="Only the first N prompts (0: all).")] = 0,
    constitution: ConstitutionOption = "default",
    overlay: OverlayOption = None,
) -> None:
    """Critique and revise the model's answers under the constitution; write SFT data."""
    from valign.cai.critique import CritiqueSettings, critique_revise, write_sft, write_traces
    from valign.cai.evaluator import TrainedEvaluator
    from valign.cai.sampling import prompts_from
    from valign.cai.supervised import relevant_principles, revision_stats
    from valign.models import GenerationConfig, load_model

    c = _constitution(constitution, overlay)
    convs = prompts_from(prompts, limit)
    chat = load_model(model)
    first = chat.generate(convs, GenerationConfig(max_new_tokens=96))
    ev = TrainedEvaluator.load(evaluator_dir) if evaluator_dir else None
    traces = critique_revise(
        chat,
        c,
        convs,
        first,
        CritiqueSettings(n_revisions=n_revisions),
        principles=relevant_principles(ev, convs, 1) if ev else None,
        scorer=ev.score if ev else None,
    )
    write_traces(out / "traces.jsonl", traces)
    n = write_sft(out / "sft.jsonl", traces)
    typer.echo(json.dumps(revision_stats(traces)))
    typer.echo(f"wrote {out / 'sft.jsonl'}: {n} demonstrations")


@app.command()
def label(
    policy: Annotated[str, typer.Option(help="The policy whose samples are compared.")],
    prompts: Annotated[Path, typer.Option(help="Prompt, demonstration or comparison file.")],
    evaluator_dir: Annotated[Path, typer.Option("--evaluator", help="Trained evaluator folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="AI-labelled comparisons to write.")],
    n: Annotated[int, typer.Option(help="Replies sampled per prompt.")] = 4,
    min_confidence: Annotated[float, typer.Option(help="Drop less certain pairs.")] = 0.6,
    limit: Annotated[int, typer.Option(help="Only the first N prompts (0: all).")] = 0,
) -> None:
    """RLAIF labels: the evaluator compares pairs sampled from the policy."""
    from valign.cai.evaluator import TrainedEvaluator
    from valign.cai.rlaif import rlaif_labels
    from valign.cai.sampling import SamplingSettings, prompts_from
    from valign.records.comparisons import write_comparisons

    ev = TrainedEvaluator.load(evaluator_dir)
    rows = rlaif_labels(
        policy, prompts_from(prompts, limit), ev, SamplingSettings(n=n), min_confidence, ev.score
    )
    write_comparisons(out, rows)
    typer.echo(f"wrote {out}: {len(rows)} AI-labelled comparisons")


@app.command()
def run(
    policy: Annotated[str, typer.Option(help="Starting policy (a model folder).")],
    seed: Annotated[Path, typer.Option(help="Labelled comparisons for the evaluator's seed.")],
    prompts: Annotated[Path, typer.Option(help="Prompt file (replies and labels unused).")],
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
) -> None:
    """The whole stage: evaluator, supervised CAI, RLAIF; then `valign eval` the model."""
    from valign.cai.pipeline import cai_stage
    from valign.cai.settings import CAISettings
    from valign.train.dpo import DPOSettings
    from valign.train.sft import SFTSettings

    s = CAISettings(
        seed_size=seed_size,
        prompts=n_prompts,
        sft=SFTSettings(learning_rate=3e-4, epochs=3, threads=threads),
        dpo=DPOSettings(threads=threads),
    )
    record = cai_stage(
        out, policy, seed, prompts, _constitution(constitution, overlay), s, supervised, rlaif
    )
    overall = record["agreement"].get("overall", {})
    if overall:
        typer.echo(f"evaluator agreement: {overall['accuracy']['value']:.3f} on held-out labels")
    typer.echo(f"policy: {record['model_dir']}")
