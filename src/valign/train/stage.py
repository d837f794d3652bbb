"""The alignment stages of ``valign demo`` and their report sections.

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

from pathlib import Path
from typing import Any

from rich.console import Console

from valign.models.progress import steps_bar
from valign.records.comparisons import load_comparisons
from valign.records.runs import RunDir
from valign.report import format_value
from valign.report.sections import line_plot, section, table
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


def stage_sft(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
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


def _reward_stage(run: RunDir, cfg: Any, console: Console, objective: str) -> dict[str, Any]:
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


def stage_reward(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    return _reward_stage(run, cfg, console, "reward")


def stage_cost(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    return _reward_stage(run, cfg, console, "cost")


def stage_rl(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
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


def stage_cai(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """RLAIF from the demo's SFT model; the scorecard is eval_aligned's."""
    from valign.cai.pipeline import evaluator_agreement, evaluator_in
    from valign.cai.rlaif import rlaif_phase
    from valign.cai.sampling import prompts_from
    from valign.values import load_constitution

    s = cfg.rlaif
    out = run.stage("cai")
    constitution = load_constitution(cfg.constitution)
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


def stage_eval_aligned(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    from valign.evals.scorecard import METRIC_TITLES

    a = _align(cfg).model_copy(update={"eval_tasks": str(_world(run, "eval.jsonl"))})
    out = run.stage("eval_aligned")
    cards = {"base": (run.summary("eval_base") or {}).get("scorecard", {})}
    for name in ALIGNED:
        model = run.stage_path(name) / "model"
        if run.is_done(name) and model.is_dir():
            cards[name] = evaluate(model, a, console, out / name)["scorecard"]
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
