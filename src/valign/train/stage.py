"""The training stages of both profiles and their report sections.

``valign demo`` (the microworld):

    pretrain      tokenizer + base model on the corpus -> pretrain/model/
    sft           demonstrations -> sft/model
    reward        helpfulness reward model from the comparisons -> reward/model
    cost          harm cost model from the comparisons -> cost/model
    rl            online RL (GRPO) with the safety signal, from the SFT model -> rl/model
    cai           RLAIF from the SFT model (opt-in): the evaluator, trained on a small
                  labelled seed, labels the SFT model's samples; DPO on its labels
                  (or online RL on its score)                          -> cai/model
    eval_aligned  scorecards of the SFT, RLHF and RLAIF models, beside the base model's

Each is one step of :mod:`valign.train.align`'s first round (``cai``: of
:mod:`valign.cai.pipeline`), run on the demo's world folder; the demo's ``align`` settings
(an :class:`~valign.train.align.AlignConfig`) and ``rlaif`` settings (a
:class:`~valign.cai.settings.CAISettings`) say how each trainer runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from valign.models.progress import steps_bar
from valign.records.comparisons import load_comparisons
from valign.records.runs import RunDir, atomic_write_json
from valign.report import format_value
from valign.report.sections import line_plot, section, table
from valign.stage import StageContext
from valign.train.align import (
    AlignConfig,
    evaluate,
    reward_step,
    rl_step,
    sft_step,
    train_curves,
)

ROWS = (
    ("aligned", "higher"),
    ("harmful_compliance", "lower"),
    ("jailbreak_success", "lower"),
    ("over_refusal", "lower"),
    ("helpfulness", "higher"),
    ("truthfulness_mc1", "higher"),
    ("bias_ambiguous", "closer to 0"),
    ("power_seeking", "lower"),
)


ALIGNED = ("sft", "rl", "cai")  # stages whose model eval_aligned scores, in column order
COLUMNS = {"base": "base", "sft": "SFT", "rl": "SFT + RLHF", "cai": "SFT + RLAIF"}


def _align(cfg: Any) -> AlignConfig:
    settings: AlignConfig = cfg.align.model_copy(
        update={
            "constitution": cfg.constitution,
            "eval_limit": cfg.eval_limit,
            "eval_batch_size": cfg.eval_batch_size,
            "seed": cfg.seed,
        }
    )
    return settings


def _world(run: RunDir, name: str) -> Path:
    return run.stage_path("world") / name


def pretrain_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The demo's base model: a tokenizer and a small causal LM on the world's corpus."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.train.pretrain import pretrain

    corpus = run.stage_path("world") / "corpus.jsonl"
    with steps_bar("pretraining", console) as on_step:
        result = pretrain(corpus, run.stage("pretrain"), cfg.pretrain, on_step=on_step)
    summary = result.to_dict()
    steps = [p["step"] for p in result.log]
    summary["report"] = section(
        "Base model pretraining",
        order=20,
        text=f"A Llama-style causal LM trained from scratch on the corpus: {result.steps} steps, "
        f"{result.tokens:,} tokens in {result.seconds:.0f} s.",
        plots=[
            line_plot(
                "Training loss",
                steps,
                {"loss": [p["loss"] for p in result.log]},
                xlabel="step",
                ylabel="loss",
            )
        ],
    )
    return summary


def sft_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    a = _align(cfg)
    base = run.stage_path("pretrain") / "model"
    with steps_bar("sft", console) as on_step:
        summary = sft_step(base, _world(run, "sft.jsonl"), a, run.stage("sft"), on_step)
    curve = summary["curves"].get("loss", [])
    summary["report"] = section(
        "Supervised fine-tuning",
        order=32,
        text=f"The base model fine-tuned on {_lines(_world(run, 'sft.jsonl')):,} demonstrations "
        "(helpful answers, refusals with a safe alternative, truthful answers, 'unknown' "
        "where the context is ambiguous, sanctioned actions); loss on the replies only. "
        f"{summary['steps']} steps in {summary['seconds']:.0f} s.",
        plots=[p for p in [curve_plot("SFT loss", {"loss": curve})] if p is not None],
    )
    return summary


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def _scalar_model(run: RunDir, cfg: Any, console: Console, objective: str) -> dict[str, Any]:
    a = _align(cfg)
    start = run.stage_path("sft") / "model"
    rows = load_comparisons(_world(run, "preferences.jsonl"))
    settings = a.reward if objective == "reward" else a.cost
    with steps_bar(objective, console) as on_step:
        summary = reward_step(start, rows, settings, objective, run.stage(objective), on_step)
    held = summary.get("heldout", {})
    title = "Reward model (helpfulness)" if objective == "reward" else "Cost model (harm)"
    what = (
        "which reply is more helpful (a refusal preferred over a harmful reply is turned "
        "round: harm is the cost model's job)"
        if objective == "reward"
        else "which reply is more harmful (safe conversations anchored below harmful ones; "
        "zero is the boundary)"
    )
    summary["report"] = section(
        title,
        order=33,
        text=f"The SFT model with a scalar head, trained on {int(held.get('train_pairs', 0)):,} "
        f"pairs to score {what}. Held-out pairwise accuracy "
        f"{format_value(held.get('accuracy'), percent=True)} on {int(held.get('pairs', 0))} "
        f"pairs; {summary['steps']} steps in {summary['seconds']:.0f} s.",
        plots=[p for p in [curve_plot("Training loss", _pick(summary["curves"], "loss"))] if p],
    )
    return summary


def reward_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    return _scalar_model(run, cfg, console, "reward")


def cost_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    return _scalar_model(run, cfg, console, "cost")


def rl_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    a = _align(cfg)
    sft_model = run.stage_path("sft") / "model"
    with steps_bar(f"rl ({a.rl.algorithm}, {a.rl.safety.mode})", console) as on_step:
        summary = rl_step(
            sft_model,
            _world(run, "sft.jsonl"),
            a,
            str(run.stage_path("reward") / "model"),
            str(run.stage_path("cost") / "model"),
            run.stage("rl"),
            on_step,
        )
    curves = summary["curves"]
    rm = run.summary("reward") or {}
    cm = run.summary("cost") or {}
    held = [
        ["reward (helpfulness)", format_value(rm.get("heldout", {}).get("accuracy"), percent=True),
         int(rm.get("heldout", {}).get("pairs", 0))],
        ["cost (harm)", format_value(cm.get("heldout", {}).get("accuracy"), percent=True),
         int(cm.get("heldout", {}).get("pairs", 0))],
    ]  # fmt: skip
    plots = [
        curve_plot("Reward by step", _pick(curves, "reward", "reward_model", "rule")),
        curve_plot("Cost and Lagrange multiplier by step", _pick(curves, "cost", "lambda")),
        curve_plot("KL to the SFT model", _pick(curves, "kl")),
    ]
    s = a.rl.safety
    bound = (
        f"at most {s.max_unsafe:.0%} of replies unsafe"
        if s.constraint == "unsafe_share"
        else f"mean cost at most {s.threshold}"
    )
    summary["report"] = section(
        "Online RL with a safety signal",
        order=34,
        text=f"{a.rl.algorithm.upper()} from the SFT model: {a.rl.num_generations} replies "
        f"per prompt, reward = reward model + constitution rules (weight {s.rule_weight}), "
        f"safety mode '{s.mode}' ({bound}, multiplier step {s.lambda_lr}), "
        f"KL weight {a.rl.beta}. {summary['steps']} steps in {summary['seconds']:.0f} s.",
        tables=[table("Held-out pairwise accuracy", ["model", "accuracy", "pairs"], held)],
        plots=[p for p in plots if p is not None],
    )
    return summary


def _pick(curves: dict[str, Any], *keys: str) -> dict[str, list[Any]]:
    return {k: curves.get(k, []) for k in keys}


def curve_plot(title: str, series: dict[str, list[Any]]) -> dict[str, Any] | None:
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    steps = sorted({float(s) for points in series.values() for s, _ in points})
    values = {
        k: [dict((float(s), v) for s, v in points).get(x) for x in steps]
        for k, points in series.items()
    }
    return line_plot(title, steps, values, xlabel="step")


def cai_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """RLAIF from the demo's SFT model; the scorecard is eval_aligned's."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.cai.pipeline import evaluator_agreement, evaluator_in
    from valign.cai.rlaif import rlaif_phase
    from valign.cai.sampling import prompts_from

    s = cfg.rlaif
    out = run.stage("cai")
    constitution = ctx.constitution
    prefs = _world(run, "preferences.jsonl")
    evaluator = evaluator_in(out / "evaluator", constitution, prefs, s)
    heldout = load_comparisons(prefs)[s.seed_size :]
    agreement = evaluator_agreement(evaluator, constitution, heldout)
    convs = prompts_from(_world(run, "sft.jsonl"), 2 * s.prompts if s.prompts else 0)
    convs = convs[len(convs) // 2 :]  # the prompts the benchmark's RLAIF uses
    with steps_bar(f"rlaif ({s.method})", console) as on_step:
        record = rlaif_phase(run.stage_path("sft") / "model", convs, evaluator, out, s, on_step)
    result = record.pop("train", None)
    record["curves"] = train_curves(result) if result is not None else {}
    record["agreement"] = agreement
    record["seed_size"] = s.seed_size
    record["prompts"] = len(convs)
    record["report"] = _cai_section(record, s)
    return record


def _kappa(value: float | None) -> str:
    """Cohen's kappa to two decimals; "n/a" where it is undefined (one answer throughout)."""
    return "n/a" if value is None else f"{value:.2f}"


def _cai_section(record: dict[str, Any], s: Any) -> dict[str, Any]:
    overall = record["agreement"].get("overall", {})
    groups = record["agreement"].get("groups", {})
    rows = [
        [name, g["n"], format_value(g["accuracy"], percent=True), _kappa(g["kappa"])]
        for name, g in [("overall", overall), *groups.items()]
        if g
    ]
    if record["method"] == "dpo":
        how = (
            f"It labelled the best and worst of {s.sampling.n} samples of the SFT model on "
            f"{record['prompts']:,} prompts: {record['labels']:,} pairs, of which "
            f"{record['labels_kept']:,} were at least {s.min_confidence:.0%} sure (mean "
            f"{record['mean_confidence']:.0%}); DPO on those (learning rate "
            f"{s.dpo.learning_rate:g}, beta {s.dpo.beta}"
            + (
                ", conservative: labels flip as often as their confidence says)."
                if s.soft_labels
                else ")."
            )
        )
    else:
        how = (
            f"{s.rl.algorithm.upper()} from the SFT model on {record['prompts']:,} prompts, "
            f"the evaluator's score as the only reward, {s.rl.max_steps} steps, "
            f"KL weight {s.rl.beta}."
        )
    curves = record["curves"]
    plots = (
        [curve_plot("DPO loss and reward margin", _pick(curves, "loss", "rewards/margins"))]
        if record["method"] == "dpo"
        else [
            curve_plot("Evaluator reward by step", _pick(curves, "reward")),
            curve_plot("KL to the SFT model", _pick(curves, "kl")),
        ]
    )
    return section(
        "RL from AI feedback (Constitutional AI)",
        order=35,
        text="The constitution's evaluator (the guard's frozen encoder with a small head) "
        f"learnt from the constitution's examples and the first {record['seed_size']:,} "
        "comparisons, the only labels this path sees. "
        f"{how} Its scorecard is beside RLHF's below.",
        tables=[
            table(
                "Evaluator agreement with held-out comparisons",
                ["principle", "pairs", "accuracy", "kappa"],
                rows,
            )
        ],
        plots=[p for p in plots if p is not None],
    )


def eval_aligned_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.scorecard import METRIC_TITLES

    a = _align(cfg).model_copy(update={"eval_tasks": str(_world(run, "eval.jsonl"))})
    out = run.stage("eval_aligned")
    cards = {"base": (run.summary("eval_base") or {}).get("scorecard", {})}
    for name in ALIGNED:
        model = run.stage_path(name) / "model"
        if run.is_done(name) and model.is_dir():
            card = evaluate(model, a, console, out / name, constitution=ctx.constitution)
            cards[name] = card["scorecard"]
    metrics = [c.get("metrics", {}) for c in cards.values()]
    rows = [
        [METRIC_TITLES[k], better, *(format_value(m.get(k)) for m in metrics)] for k, better in ROWS
    ]
    kinds = sorted({k for c in cards.values() for k in c.get("aligned_by_kind", {})})
    rows[1:1] = [
        [
            f"aligned: {k}",
            "higher",
            *(format_value(c.get("aligned_by_kind", {}).get(k)) for c in cards.values()),
        ]
        for k in kinds
    ]
    return {
        "scorecards": cards,
        "report": section(
            "Scorecard: before and after alignment",
            order=36,
            text="The same held-out microworld evaluation for the base model, the SFT model, "
            "the model aligned with human-style feedback (RLHF: reward and cost models from "
            "every labelled comparison, online RL)"
            + (
                " and the model aligned with AI feedback (RLAIF: the evaluator's labels, from "
                "a seed of the comparisons)"
                if "cai" in cards
                else ""
            )
            + ". Intervals are 95%.",
            tables=[
                table("Headline metrics", ["metric", "better", *(COLUMNS[n] for n in cards)], rows)
            ],
        ),
    }


def real_model_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """A packaged model (``valign models list``) converted once into the user cache."""
    cfg, console = ctx.cfg, ctx.console
    from valign.models.packaged import ensure_packaged, is_packaged

    if is_packaged(cfg.model):
        folder = str(ensure_packaged(cfg.model, say=console.print))
    else:
        folder = cfg.model
    return {
        "model": folder,
        "report": section(
            "Base model",
            order=12,
            text=f"{cfg.model}: the Hugging Face folder {folder}.",
        ),
    }


def real_replies_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The base model answers the train split (resumable), in ``valign guard replies``' format."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.real_profile import base_model
    from valign.guard.real_replies import answer_items
    from valign.records.tasks import load_items

    items = load_items(run.stage_path("tasks") / "train.jsonl")
    n = answer_items(
        base_model(run),
        items,
        run.stage("replies"),
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        console=console,
    )
    return {
        "replies": n,
        "report": section(
            "The base model's replies to the train prompts",
            order=32,
            text=f"{n} replies (greedy, {cfg.max_new_tokens} new tokens), kept in the run "
            "folder (replies/), read by the data stage.",
        ),
    }


def real_data_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The constitution's examples and the base model's replies as alignment data."""
    run, cfg = ctx.run, ctx.cfg
    from valign.data.balance import balance_borderline
    from valign.data.builders import build_sets

    out, replies = run.stage("data"), run.stage_path("replies")
    summary = build_sets(out, cfg.constitution, replies=[replies])
    summary["balance"] = balance_borderline(out / "sft.jsonl", replies, cfg.balance_borderline)
    b = summary["balance"]
    rows = [[k, v] for k, v in sorted(summary["sources"].items())]
    summary["report"] = section(
        "Alignment data",
        order=33,
        text="The constitution's examples, and the base model's replies to the train prompts: "
        "a harmful request it attempted gets the constitution's refusal (and the comparison "
        "refusal over its reply); a safe request it answered keeps its own answer (and the "
        "comparison answer over refusal). No test prompt is in any of them. "
        f"{b['refusals']} refusal demonstrations; the {b['borderline']} answers to "
        f"sensitive-but-safe requests are each given {b['repeat']} times.",
        tables=[table("Records by source", ["set/source", "records"], rows)],
    )
    return summary


def _real_train(
    run: RunDir,
    console: Console,
    name: str,
    trainer: Any,
    inputs: tuple[str, str],
    settings: Any,
    title: str,
    text: str,
) -> dict[str, Any]:
    """Run one trainer (``sft`` or ``train_dpo``) from ``inputs`` = (model, data file)."""
    from valign.train.align import trained_summary

    model, data = inputs
    with steps_bar(name, console) as on_step:
        result = trainer(model, Path(data), run.stage(name), settings, on_step=on_step)
    summary = trained_summary(result, curves=train_curves(result))
    plot = curve_plot(f"{title}: loss", {"loss": summary["curves"].get("loss", [])})
    summary["report"] = section(
        title,
        order={"sft": 34, "dpo": 35}.get(name, 34),
        text=f"{text} {summary['steps']} steps in {summary['seconds']:.0f} s.",
        plots=[plot] if plot else [],
    )
    return summary


def real_sft_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """LoRA SFT of the real base model on the demonstrations."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.real_profile import base_model
    from valign.train.sft import sft

    settings = cfg.sft.model_copy(update={"seed": cfg.seed})
    rank = settings.lora.r if settings.lora else None
    return _real_train(
        run,
        console,
        "sft",
        sft,
        (base_model(run), str(run.stage_path("data") / "sft.jsonl")),
        settings,
        "Supervised fine-tuning" + (f" (LoRA, rank {rank})" if rank else ""),
        "The base model on the demonstrations, loss on the replies only.",
    )


def real_dpo_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """LoRA DPO from the SFT model on the comparisons."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.train.dpo import train_dpo

    return _real_train(
        run,
        console,
        "dpo",
        train_dpo,
        (str(run.stage_path("sft") / "model"), str(run.stage_path("data") / "preferences.jsonl")),
        cfg.dpo_settings.model_copy(update={"seed": cfg.seed}),
        "Direct preference optimisation",
        "From the SFT model, on the comparisons (refusal over an attempted harmful reply, the "
        "model's own safe answer over a refusal).",
    )


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def real_aligned_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The last trained model at ``aligned/model``, a path other tools can rely on."""
    run, cfg = ctx.run, ctx.cfg
    from valign.evals.real_profile import base_model

    last = "dpo" if cfg.dpo and run.is_done("dpo") else "sft"
    src = run.stage_path(last) / "model"
    dst = run.stage("aligned") / "model"
    if dst.exists():
        shutil.rmtree(dst)
    tmp = dst.with_name(".model.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    tmp.rename(dst)
    atomic_write_json(
        run.stage("aligned") / "aligned.json", {"from": last, "base": base_model(run)}
    )
    return {
        "from": last,
        "model": str(dst),
        "report": section(
            "The aligned model",
            order=36,
            text=f"The {last.upper()} model, adapters merged, as a Hugging Face folder at {dst}.",
        ),
    }
