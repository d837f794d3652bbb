"""Iterated alignment: ``valign align --rounds N``.

Round 1 starts from the base model::

    sft       demonstrations -> the starting policy (and the RL reference)
    reward    helpfulness reward model from the comparisons       (method rl)
    cost      harm cost model from the comparisons                (method rl)
    policy    online RL with the safety signal, or DPO
    eval      the scorecard of the new policy

Each later round first collects feedback on the current policy::

    feedback  sample replies on fresh prompts, have them judged, add the comparisons

then retrains the reward and cost models on every comparison so far, improves the policy
again from where it stands, and scores it. Feedback comes from the microworld's ground
truth by default (standing in for human raters); a comparison file per round — from the
rating app or the AI evaluator — can replace it (``feedback: path/with/{round}.jsonl``).

Every step is a stage of a run folder (``round-K/<step>/DONE.json``): a killed run resumes
at the step it was in, and a finished step is never redone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console

from valign.errors import UserError
from valign.records.comparisons import Comparison, load_comparisons, write_comparisons
from valign.records.runs import RunDir
from valign.train.common import TrainResult
from valign.train.dpo import DPOSettings, train_dpo
from valign.train.reward import RewardSettings, train_reward_model
from valign.train.rl import RLSettings, train_rl
from valign.train.sft import SFTSettings, sft
from valign.values import Constitution

Method = Literal["rl", "dpo"]


class AlignConfig(BaseModel):
    """Settings of the alignment loop; each trainer's own settings nest inside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field("rl", description="rl: reward + cost models and online RL; dpo.")
    rounds: int = Field(1, ge=1, description="Feedback-and-retrain rounds.")
    seed: int = Field(0, description="Seed of sampling, feedback and training.")
    sft: SFTSettings = Field(default_factory=SFTSettings)
    reward: RewardSettings = Field(default_factory=RewardSettings)
    cost: RewardSettings = Field(default_factory=RewardSettings)
    rl: RLSettings = Field(default_factory=RLSettings)
    dpo: DPOSettings = Field(default_factory=DPOSettings)
    feedback: str = Field(
        "world",
        description="Feedback on later rounds: 'world' (the microworld's ground truth), "
        "'none', or a comparison file path with {round} in it.",
    )
    samples_per_round: int = Field(512, description="Replies sampled for feedback per round.")
    sample_temperature: float = Field(1.0, description="Temperature of those samples.")
    eval_tasks: str | None = Field(
        None, description="Task file to score each round on (None: the microworld's eval split)."
    )
    eval_limit: int = Field(0, description="Score only the first N items (0: all).")
    eval_batch_size: int = Field(64, description="Generation batch size for scoring.")
    constitution: str = Field("default", description="Constitution of the scorecard rows.")
    guard: str | None = Field(None, description="Guard folder for the rules (None: default).")


Step = Callable[[Path], dict[str, Any]]


def run_step(
    run: RunDir, name: str, cfg: AlignConfig, console: Console, fn: Step
) -> dict[str, Any]:
    """One resumable step of a round (see :meth:`RunDir.run_stage`)."""
    label = f"{run.root.name}/{name}"
    return run.run_stage(name, cfg, cfg.seed, lambda: fn(run.stage(name)), console, label)


def trained_summary(result: TrainResult, **extra: Any) -> dict[str, Any]:
    summary = result.to_dict()
    summary.pop("log")  # kept in the checkpoints' trainer state; curves are summarised
    return {**summary, **extra}


def sft_step(
    base: str | Path, demonstrations: Path, cfg: AlignConfig, out: Path, on_step: Any = None
) -> dict[str, Any]:
    result = sft(base, demonstrations, out, cfg.sft, on_step=on_step)
    return trained_summary(result, curves=train_curves(result))


def sample_feedback(
    policy: Path, cfg: AlignConfig, round_no: int, world_seed: int
) -> list[Comparison]:
    """Sample the policy on fresh training-split prompts; the world's ground truth judges."""
    from valign.models.hf import HFChatModel
    from valign.models.types import GenerationConfig
    from valign.records.messages import Conversation
    from valign.world.generate import Generator
    from valign.world.lexicon import build_lexicon
    from valign.world.oracle import label
    from valign.world.splits import WorldConfig, mixture

    rng = random.Random(f"{world_seed}:feedback:{round_no}")
    gen = Generator(build_lexicon(world_seed), "train", rng)
    episodes = list(mixture(gen, WorldConfig(seed=world_seed), cfg.samples_per_round))
    model = HFChatModel(policy)
    replies = model.generate(
        [cast("Conversation", ep.item.prompt()) for ep in episodes],
        GenerationConfig(
            max_new_tokens=cfg.rl.max_completion_length,
            temperature=cfg.sample_temperature,
            seed=cfg.seed + round_no,
            batch_size=cfg.eval_batch_size,
        ),
    )
    return label(episodes, replies, rng, tag=f"r{round_no}-")


def _collect(
    policy: Path, cfg: AlignConfig, round_no: int, world_seed: int, out: Path
) -> dict[str, Any]:
    if cfg.feedback == "world":
        rows = sample_feedback(policy, cfg, round_no, world_seed)
    elif cfg.feedback == "none":
        rows = []
    else:
        path = Path(cfg.feedback.replace("{round}", str(round_no)))
        rows = [r.model_copy(update={"id": f"r{round_no}-{r.id}"}) for r in load_comparisons(path)]
    write_comparisons(out / "comparisons.jsonl", rows)
    kinds: dict[str, int] = {}
    for r in rows:
        key = f"{r.kind or 'any'}:{r.meta.get('on_policy', 'file')}"
        kinds[key] = kinds.get(key, 0) + 1
    return {"comparisons": len(rows), "by_kind": kinds}


def _all_comparisons(out: Path, prefs: Path, round_no: int) -> list[Comparison]:
    rows = load_comparisons(prefs)
    for k in range(2, round_no + 1):
        path = out / f"round-{k}" / "feedback" / "comparisons.jsonl"
        if path.is_file() and path.stat().st_size:
            rows += load_comparisons(path)
    return rows


def evaluate(
    model: Path,
    cfg: AlignConfig,
    console: Console,
    out: Path,
    constitution: Constitution | None = None,
) -> dict[str, Any]:
    from valign.evals.run import EvalSettings, run_eval

    settings = EvalSettings(
        model=str(model),
        tasks=cfg.eval_tasks,
        constitution=cfg.constitution,
        limit=cfg.eval_limit,
        batch_size=cfg.eval_batch_size,
        seed=cfg.seed,
    )
    card: dict[str, Any] = run_eval(settings, out, console=console, constitution=constitution)
    return {"scorecard": card}


def run_align(
    base: str | Path,
    demonstrations: Path | None,
    preferences: Path,
    out: Path,
    cfg: AlignConfig,
    prompts: Path | None = None,
    world_seed: int = 0,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run (or resume) every round; returns the scorecard of each round's policy."""
    console = console or Console()
    if not preferences.is_file():
        raise UserError(f"preference file not found: {preferences}")
    if cfg.feedback not in ("world", "none") and "{round}" not in cfg.feedback:
        raise UserError("feedback must be 'world', 'none' or a path containing {round}")
    start = Path(base)
    first = RunDir(out / "round-1")
    if demonstrations is not None:
        run_step(
            first,
            "sft",
            cfg,
            console,
            partial(sft_step, base, demonstrations, cfg),
        )
        start = first.stage_path("sft") / "model"
    policy = start
    pool = prompts or preferences
    cards: dict[str, Any] = {}
    for k in range(1, cfg.rounds + 1):
        run = RunDir(out / f"round-{k}")
        if k > 1:
            run_step(run, "feedback", cfg, console, partial(_collect, policy, cfg, k, world_seed))
        rows = _all_comparisons(out, preferences, k)
        if cfg.method == "rl":
            rm = run_step(
                run, "reward", cfg, console, partial(reward_step, start, rows, cfg.reward, "reward")
            )
            cm = run_step(
                run, "cost", cfg, console, partial(reward_step, start, rows, cfg.cost, "cost")
            )
            fn = partial(rl_step, policy, pool, cfg, rm["model_dir"], cm["model_dir"])
        else:
            fn = partial(dpo_step, policy, rows, cfg)
        run_step(run, "policy", cfg, console, fn)
        policy = run.stage_path("policy") / "model"
        card = run_step(run, "eval", cfg, console, partial(evaluate, policy, cfg, console))
        cards[f"round-{k}"] = card["scorecard"]
    return cards


def reward_step(
    start: Path,
    rows: list[Comparison],
    s: RewardSettings,
    objective: Any,
    out: Path,
    on_step: Any = None,
) -> dict[str, Any]:
    result, stats = train_reward_model(start, rows, out, s, objective=objective, on_step=on_step)
    return trained_summary(result, heldout=stats, curves=train_curves(result))


def rl_step(
    policy: Path,
    pool: Path,
    cfg: AlignConfig,
    reward: str,
    cost: str,
    out: Path,
    on_step: Any = None,
) -> dict[str, Any]:
    result = train_rl(policy, pool, out, cfg.rl, reward, cost, cfg.guard, on_step)
    return trained_summary(result, curves=train_curves(result))


def dpo_step(
    policy: Path, rows: list[Comparison], cfg: AlignConfig, out: Path, on_step: Any = None
) -> dict[str, Any]:
    result = train_dpo(policy, rows, out, cfg.dpo, on_step=on_step)
    return trained_summary(result, curves=train_curves(result))


CURVES = ("loss", "reward", "reward_model", "cost", "lambda", "rule", "kl", "rewards/margins")


def train_curves(result: TrainResult) -> dict[str, list[tuple[float, float]]]:
    """The logged quantities the report plots, by step."""
    return {k: result.series(k) for k in CURVES if result.series(k)}
