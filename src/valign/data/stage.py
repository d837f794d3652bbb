"""The data stages of the lifecycle (``valign demo``, both opt-in).

``data_audit: true`` audits the run's pretraining corpus into ``<run>/data_audit/`` (audit
files and the datasheet) and contributes a report section: size and duplicates, personal
data, harmful content by category, stereotype ties and contested claims.

``data_ablation: true`` filters that corpus with the ``microworld`` policy, pretrains a
second base model on the filtered corpus with the run's pretraining settings, scores it on
the same held-out items as the base model (:mod:`valign.data.ablation`) and adds the two
scorecards side by side to the report (:func:`run_ablation`, which
``benchmarks/data_ablation.py`` runs too). It reuses the data_audit stage's audit when that
stage ran, and the eval_base stage's scorecard.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from valign.data.ablation import RESULT_FILE, compare_rows, filter_corpus, filter_rows
from valign.data.audit import AuditConfig, run_audit
from valign.data.datasheet import harm_plots
from valign.errors import UserError
from valign.models.progress import steps_bar
from valign.records.runs import atomic_write_json
from valign.report.sections import section, table
from valign.stage import StageContext

#: The stage's audit settings (small pieces: the microworld corpus is a single 8 MB file).
STAGE_CONFIG = AuditConfig(piece_mb=2)
#: The policy of the ablation: drop what the guard flags and contested claims, redact
#: personal data, relabel the groups of documents carrying a flagged stereotype tie.
ABLATION_POLICY = "microworld"


def pretrain_and_eval(
    corpus: Path,
    out: Path,
    tasks: Path,
    pretrain_config: Any,
    eval_options: dict[str, Any] | None = None,
    console: Console | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Pretrain on ``corpus`` into ``out`` and score ``out/model`` on ``tasks`` into
    ``out/eval``; returns ``{"pretrain": result, "scorecard": card}``. ``eval_options``:
    other :class:`~valign.evals.run.EvalSettings` fields (constitution, limit, batch_size)."""
    from valign.evals.run import EvalSettings, run_eval
    from valign.train.pretrain import pretrain

    result = pretrain(corpus, out, pretrain_config, on_step=on_step)
    settings = EvalSettings(model=str(out / "model"), tasks=str(tasks), **(eval_options or {}))
    card = run_eval(settings, out / "eval", console=console)
    return {"pretrain": result.to_dict(), "scorecard": card}


def run_ablation(
    corpus: Path,
    tasks: Path,
    raw_card: dict[str, Any],
    out: Path,
    pretrain_config: Any,
    policy: str = "microworld",
    audit_dir: Path | None = None,
    audit_config: AuditConfig | None = None,
    eval_options: dict[str, Any] | None = None,
    console: Console | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The whole ablation into ``out`` (``audit/``, ``filtered/``, ``clean/`` with the new
    model and its scorecard, ``ablation.json``); ``raw_card`` is the raw arm's scorecard."""
    if not raw_card.get("metrics"):
        raise UserError("the ablation needs the raw corpus's scorecard (run eval_base first)")
    summary = filter_corpus(corpus, out, policy, audit_dir, audit_config)
    clean = pretrain_and_eval(
        out / "filtered" / "corpus.jsonl",
        out / "clean",
        tasks,
        pretrain_config,
        eval_options,
        console,
        on_step,
    )
    result = {
        "policy": policy,
        "filter": summary,
        "pretrain": clean["pretrain"],
        "raw": raw_card["metrics"],
        "filtered": clean["scorecard"]["metrics"],
        "rows": compare_rows(raw_card, clean["scorecard"]),
    }
    atomic_write_json(out / RESULT_FILE, result)
    return result


def data_audit_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run = ctx.run
    corpus = run.stage_path("world") / "corpus.jsonl"
    a = run_audit(corpus, run.stage("data_audit"), STAGE_CONFIG)
    size, dup, harm = a["size"], a["duplicates"], a["harm"]
    ties = a["representation"]["stereotype_ties"]
    claims = a["claims"]["contested"]
    rows = [
        ["documents", size["documents"]],
        ["exact duplicates", dup["exact"]],
        ["near duplicates", dup["near"]],
        ["documents with personal data", a["pii"]["documents"]],
        ["unsafe documents (guard)", harm["flagged"]],
        ["stereotype ties", len(ties)],
        ["contested claims", len(claims)],
    ]
    a["report"] = section(
        "Training data audit",
        order=15,
        text="The pretraining corpus, audited: duplicates, personal data, harmful content per "
        "taxonomy category (the guard), group-trait ties and contested claims. The full "
        "datasheet is `data_audit/datasheet.html`.",
        tables=[
            table("Audit", ["measure", "value"], rows),
            table(
                "Stereotype ties",
                ["group", "trait", "documents", "PMI (bits)"],
                [[t["group"], t["trait"], t["docs"], t["pmi"]] for t in ties],
            ),
        ],
        plots=harm_plots(harm),
    )
    return a


def data_ablation_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    world = run.stage_path("world")
    raw = (run.summary("eval_base") or {}).get("scorecard")
    if not raw:
        raise UserError("data_ablation compares against the base model: eval_base is not done")
    audit_dir = run.stage_path("data_audit") if run.is_done("data_audit") else None
    with steps_bar("pretraining on the filtered corpus", console) as on_step:
        result = run_ablation(
            world / "corpus.jsonl",
            world / "eval.jsonl",
            raw,
            run.stage("data_ablation"),
            cfg.pretrain,
            policy=ABLATION_POLICY,
            audit_dir=audit_dir,
            audit_config=STAGE_CONFIG,
            eval_options={
                "constitution": cfg.constitution,
                "limit": cfg.eval_limit,
                "batch_size": cfg.eval_batch_size,
            },
            console=console,
            on_step=on_step,
        )
    f, steps = result["filter"], result["pretrain"]["steps"]
    result["report"] = section(
        "Training data ablation: raw against filtered corpus",
        order=33,
        text=f"A second base model, pretrained with the same settings on the corpus filtered "
        f"with the `{ABLATION_POLICY}` policy ({f['removed']:,} of {f['input']:,} documents "
        f"removed, {f['swapped_in_place']:,} relabelled; {steps} steps), scored on the same "
        "held-out items as the base model. Intervals are 95%. Every removed document and "
        "why: `data_ablation/filtered/removed.jsonl`.",
        tables=[
            table(
                "Headline metrics",
                ["metric", "better", "raw corpus", "filtered corpus"],
                result["rows"],
            ),
            table("The filter", ["measure", "documents"], filter_rows(f)),
        ],
    )
    return result
