"""``valign train sft|reward|dpo|rl`` and ``valign align``.

Each trainer takes any Hugging Face causal LM folder or hub id with a chat template, a
YAML file of its settings (``--config``) and a few common options that override it. Runs
resume from their last checkpoint when started again with the same ``--out``. For several
processes or machines, start the same command under ``accelerate launch`` (with a
DeepSpeed or FSDP accelerate config on GPUs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from valign.errors import UserError
from valign.settings import load_settings

app = typer.Typer(
    help="Training: SFT, reward and cost models, DPO, online RL with a safety signal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

MODEL_HELP = "Model folder or hub id (a causal LM with a chat template)."
CONFIG_HELP = "YAML file of settings (command-line options override it)."

DEMOS_HELP = (
    "Demonstrations in TRL's formats ('messages' ending in a reply, 'prompt' + 'completion', "
    "or 'text'): a JSONL or Parquet file or a Hugging Face dataset id (org/name[:split])."
)
PREFS_HELP = (
    "Comparisons: a JSONL or Parquet file in valign's or TRL's standard preference format, "
    "or a Hugging Face dataset id (org/name or org/name:split)."
)


def _common(
    lr: float | None,
    epochs: float | None,
    max_steps: int | None,
    lora: bool | None,
    seed: int | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    return {
        "learning_rate": lr,
        "epochs": epochs,
        "max_steps": max_steps,
        "lora": {} if lora else None,
        "seed": seed,
        "batch_size": batch_size,
    }


def _done(what: str, out: Path, result: Any, extra: dict[str, Any] | None = None) -> None:
    from valign.models.progress import is_main_process

    if not is_main_process():
        return
    console = Console(stderr=True)
    console.print(
        f"{what}: {result.steps} steps in {result.seconds:.0f} s -> {result.model_dir}",
        highlight=False,
    )
    if extra:
        console.print(json.dumps(extra, indent=2), highlight=False)


LR = typer.Option(None, "--lr", help="Peak learning rate.")
EPOCHS = typer.Option(None, help="Passes over the data.")
STEPS = typer.Option(None, help="Optimiser steps (overrides --epochs).")
LORA = typer.Option(None, "--lora/--full", help="LoRA adapters (PEFT) or full fine-tuning.")
SEED = typer.Option(None, help="Seed of initialisation and data order.")
BATCH = typer.Option(None, help="Examples per device per optimiser step.")


@app.command("sft")
def sft_command(
    model: str = typer.Option(..., help=MODEL_HELP),
    data: Path = typer.Option(..., help=DEMOS_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder; the model is written to OUT/model."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
    lr: float | None = LR,
    epochs: float | None = EPOCHS,
    max_steps: int | None = STEPS,
    lora: bool | None = LORA,
    seed: int | None = SEED,
    batch_size: int | None = BATCH,
) -> None:
    """Supervised fine-tuning on demonstrations (loss on the replies only)."""
    from valign.models.progress import steps_bar
    from valign.train.sft import SFTSettings, sft

    s = load_settings(SFTSettings, config, **_common(lr, epochs, max_steps, lora, seed, batch_size))
    with steps_bar("sft") as on_step:
        result = sft(model, data, out, s, on_step=on_step)
    _done("sft", out, result)


@app.command("reward")
def reward_command(
    model: str = typer.Option(..., help=MODEL_HELP + " The score head is added on top."),
    prefs: Path = typer.Option(..., help=PREFS_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder; the model is written to OUT/model."
    ),
    objective: str = typer.Option(
        "reward", help="reward: helpfulness; cost: harm (pairs with safety labels)."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
    lr: float | None = LR,
    epochs: float | None = EPOCHS,
    max_steps: int | None = STEPS,
    lora: bool | None = LORA,
    seed: int | None = SEED,
    batch_size: int | None = BATCH,
) -> None:
    """Train a reward (helpfulness) or cost (harm) model; prints held-out pair accuracy."""
    from valign.models.progress import steps_bar
    from valign.train.reward import RewardSettings, train_reward_model

    if objective not in ("reward", "cost"):
        raise UserError(f"--objective must be 'reward' or 'cost', not {objective!r}")
    s = load_settings(
        RewardSettings, config, **_common(lr, epochs, max_steps, lora, seed, batch_size)
    )
    with steps_bar(objective) as on_step:
        result, stats = train_reward_model(
            model,
            prefs,
            out,
            s,
            objective="cost" if objective == "cost" else "reward",
            on_step=on_step,
        )
    _done(objective, out, result, stats)


@app.command("dpo")
def dpo_command(
    model: str = typer.Option(..., help=MODEL_HELP),
    prefs: Path = typer.Option(..., help=PREFS_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder; the model is written to OUT/model."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
    beta: float | None = typer.Option(None, help="KL strength towards the reference."),
    lr: float | None = LR,
    epochs: float | None = EPOCHS,
    max_steps: int | None = STEPS,
    lora: bool | None = LORA,
    seed: int | None = SEED,
    batch_size: int | None = BATCH,
) -> None:
    """Direct preference optimisation from comparisons."""
    from valign.models.progress import steps_bar
    from valign.train.dpo import DPOSettings, train_dpo

    s = load_settings(
        DPOSettings, config, beta=beta, **_common(lr, epochs, max_steps, lora, seed, batch_size)
    )
    with steps_bar("dpo") as on_step:
        result = train_dpo(model, prefs, out, s, on_step=on_step)
    _done("dpo", out, result)


@app.command("rl")
def rl_command(
    model: str = typer.Option(..., help=MODEL_HELP + " Also the KL reference."),
    prompts: Path = typer.Option(
        ...,
        help="Prompts ('prompt', plain or conversational), demonstrations or comparisons: "
        "a JSONL or Parquet file or a Hugging Face dataset id (org/name[:split]).",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder; the model is written to OUT/model."
    ),
    reward_model: Path | None = typer.Option(None, help="Reward model folder."),
    cost_model: Path | None = typer.Option(None, help="Cost model folder."),
    safety: str | None = typer.Option(
        None, help="none | fixed | lagrangian (default: lagrangian)."
    ),
    guard: str | None = typer.Option(
        None, help="Guard folder for the constitution's rules (default guard if unset)."
    ),
    algorithm: str | None = typer.Option(None, help="grpo (default) or rloo."),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
    lr: float | None = LR,
    max_steps: int | None = STEPS,
    lora: bool | None = LORA,
    seed: int | None = SEED,
    batch_size: int | None = BATCH,
) -> None:
    """Online RL: reward model + constitution rules + cost model, with a KL anchor."""
    from valign.models.progress import steps_bar
    from valign.train.rl import RLSettings, train_rl

    s = load_settings(
        RLSettings,
        config,
        algorithm=algorithm,
        **{"safety.mode": safety},
        **_common(lr, None, max_steps, lora, seed, batch_size),
    )
    with steps_bar(f"rl ({s.algorithm}, {s.safety.mode})") as on_step:
        result = train_rl(model, prompts, out, s, reward_model, cost_model, guard, on_step)
    last = {k: v for k, v in (result.log[-2] if len(result.log) > 1 else {}).items()}
    _done("rl", out, result, {k: round(v, 4) for k, v in last.items()})


def align_command(
    model: str = typer.Option(..., help=MODEL_HELP + " The starting (base) model."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (resumed if it exists)."),
    sft_data: Path | None = typer.Option(
        None, "--sft", help="SFT first on these (skipped if not given). " + DEMOS_HELP
    ),
    prefs: Path = typer.Option(..., help="The first round's feedback. " + PREFS_HELP),
    rounds: int | None = typer.Option(None, min=1, help="Feedback-and-retrain rounds."),
    method: str | None = typer.Option(None, help="rl (reward + cost + online RL) or dpo."),
    feedback: str | None = typer.Option(
        None, help="Later rounds: world | none | a comparison file path with {round}."
    ),
    eval_tasks: str | None = typer.Option(
        None, help="Task file to score each round (default: the microworld's eval split)."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP + " (AlignConfig)"),
) -> None:
    """Iterated alignment: SFT, then per round feedback, reward/cost, RL or DPO, scorecard."""
    from valign.evals.scorecard import METRIC_TITLES
    from valign.report import format_value
    from valign.train.align import AlignConfig, run_align

    cfg = load_settings(
        AlignConfig,
        config,
        rounds=rounds,
        method=method,
        feedback=feedback,
        eval_tasks=eval_tasks,
    )
    cards = run_align(model, sft_data, prefs, out, cfg)
    table = Table("metric", *cards)
    keys = [k for k in METRIC_TITLES if any(c["metrics"].get(k) for c in cards.values())]
    for k in keys:
        table.add_row(
            METRIC_TITLES[k], *(format_value(c["metrics"].get(k)) for c in cards.values())
        )
    Console().print(table)
