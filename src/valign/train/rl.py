"""Online RL with a safety signal, on TRL's GRPO or RLOO trainer.

Phases:

1. ``prompt_pool``   the prompts to sample from (conversations ending in a user turn)
2. ``reward_fn``     :class:`~valign.train.rewards.AlignmentReward` over the reward model,
                     the rules and the cost model (fixed weight or Lagrangian)
3. ``train``         TRL samples ``num_generations`` replies per prompt, scores them,
                     and updates the policy with a KL anchor (``beta``) to the starting
                     model; the multiplier is saved with every checkpoint and restored on
                     resume
4. ``export``        the policy folder, and ``lagrange.json`` with the multiplier's path
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import Field, ValidationError
from transformers import TrainerCallback

from valign.errors import UserError
from valign.records.messages import to_messages
from valign.records.sources import iter_rows
from valign.train.common import (
    TrainResult,
    TrainSettings,
    chat_tokenizer,
    compact_lm_head,
    peft_config,
    quiet_libraries,
    run,
    trainer_kwargs,
    trl_config,
)
from valign.train.rewards import (
    AlignmentReward,
    ConstitutionRules,
    LagrangeMultiplier,
    SafetySettings,
)

Algorithm = Literal["grpo", "rloo"]
MULTIPLIER_FILE = "lagrange.json"


class RLSettings(TrainSettings):
    """Online RL (defaults: the microworld's SFT model on 2 CPU cores, a few minutes)."""

    algorithm: Algorithm = Field("grpo", description="TRL trainer: grpo or rloo.")
    learning_rate: float = Field(5e-5, description="Peak learning rate.")
    max_steps: int = Field(60, description="Optimiser steps.")
    batch_size: int = Field(64, description="Replies per optimiser step (prompts x generations).")
    num_generations: int = Field(8, description="Replies sampled per prompt (the group).")
    max_completion_length: int = Field(48, description="Longest sampled reply in tokens.")
    temperature: float = Field(1.0, description="Sampling temperature.")
    beta: float = Field(0.1, description="KL penalty towards the starting (reference) model.")
    safety: SafetySettings = Field(default_factory=SafetySettings)
    save_steps: int = Field(20, description="Checkpoint interval, for resuming after a kill.")


class MultiplierCallback(TrainerCallback):
    """Keeps the Lagrange multiplier with the checkpoints, so a resumed run continues it."""

    def __init__(self, multiplier: LagrangeMultiplier) -> None:
        self.multiplier = multiplier

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            (folder / MULTIPLIER_FILE).write_text(json.dumps(self._state()))

    def restore(self, checkpoint: str | None) -> None:
        path = Path(checkpoint) / MULTIPLIER_FILE if checkpoint else None
        if path is not None and path.is_file():
            saved = json.loads(path.read_text())
            self.multiplier.value = float(saved["value"])
            self.multiplier.history = [(float(a), float(b)) for a, b in saved["history"]]

    def _state(self) -> dict[str, Any]:
        return {"value": self.multiplier.value, "history": self.multiplier.history}


def _prompt(raw: dict[str, Any]) -> Any:
    """The conversation a row asks the model to continue (None when it has none)."""
    if "prompt" in raw:  # TRL's prompt-only, prompt-completion and preference rows; items' own
        return raw["prompt"]
    for key in ("messages", "chosen"):  # a demonstration or an implicit-prompt preference
        turns = raw.get(key)
        if isinstance(turns, list) and turns and isinstance(turns[-1], dict):
            return turns[:-1] if turns[-1].get("role") == "assistant" else turns
    return None


def prompt_pool(source: str | Path, limit: int = 0) -> list[dict[str, Any]]:
    """Prompts (conversations ending in a user turn) from a JSONL or Parquet file or a Hugging
    Face dataset id (``valign.records.sources``) in any of TRL's standard formats: prompts
    (``prompt``, plain or conversational), demonstrations (``messages``, prompt–completion)
    and comparisons, with or without their replies, and task files."""
    rows: list[dict[str, Any]] = []
    for where, raw in iter_rows(source, "prompt file"):
        prompt = _prompt(raw)
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        if isinstance(prompt, list):  # the turns' other keys (name, tool calls) are not kept
            prompt = [
                {k: m.get(k) for k in ("role", "content")} if isinstance(m, dict) else m
                for m in prompt
            ]
        try:
            turns = to_messages(prompt) if isinstance(prompt, list) else []
        except ValidationError as exc:
            raise UserError(f"{where}: bad message ({exc.errors()[0]['msg']})") from None
        if not turns or turns[-1]["role"] != "user":
            raise UserError(f"{where}: needs a 'prompt' ending in a user turn")
        rows.append({"prompt": turns})
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise UserError(f"{source}: no prompts in the file")
    return rows


def guard_rules(guard: str | None = None) -> ConstitutionRules:
    """The constitution's rules through the (default) guard and its refusal detector."""
    from valign.guard import GuardInput, get_backend, load_refusal_detector
    from valign.guard.build import ensure_default_guard

    folder = Path(guard) if guard else ensure_default_guard()
    backend = get_backend(str(folder))
    detector = load_refusal_detector(str(folder))

    def flag(pairs: Sequence[tuple[str, str | None]]) -> list[bool]:
        return [v.flagged for v in backend.classify([GuardInput(p, r) for p, r in pairs])]

    def refused(pairs: Sequence[tuple[str, str]]) -> list[bool]:
        return [r.refusal for r in detector.detect(pairs)]

    encoder = getattr(backend, "encoder", None)
    if encoder is not None and encoder is detector.encoder:  # one encoder: embed each text once
        return ConstitutionRules(flag=flag, refused=refused, shared=encoder.shared)
    return ConstitutionRules(flag=flag, refused=refused)


def train_rl(
    model: str | Path,
    prompts: str | Path | list[dict[str, Any]],
    out: Path,
    s: RLSettings,
    reward_model: str | Path | None = None,
    cost_model: str | Path | None = None,
    guard: str | None = None,
    on_step: Any = None,
) -> TrainResult:
    """Optimise ``model`` online against the reward signal; the result is in ``out/model``."""
    from datasets import Dataset

    from valign.train.reward import Scorer

    quiet_libraries()  # before the reward and cost models load
    rows = prompt_pool(prompts) if isinstance(prompts, str | Path) else list(prompts)
    name, tok = chat_tokenizer(model, padding_side="left")
    if s.batch_size % s.num_generations:
        raise UserError(
            f"batch_size ({s.batch_size}) must be a multiple of num_generations "
            f"({s.num_generations})"
        )
    rules = guard_rules(guard) if s.safety.rule_weight else None
    reward_fn = AlignmentReward(
        reward=Scorer(reward_model) if reward_model else None,
        cost=Scorer(cost_model) if cost_model else None,
        rules=rules,
        settings=s.safety,
    )
    if reward_fn.reward is None and reward_fn.cost is None and rules is None:
        raise UserError("online RL needs a reward model, a cost model or the rules")
    trainer = rl_trainer(name, tok, Dataset.from_list(rows), reward_fn, s, out)
    callback = None
    if reward_fn.multiplier is not None:
        from transformers.trainer_utils import get_last_checkpoint

        callback = MultiplierCallback(reward_fn.multiplier)
        work = out / "checkpoints"
        callback.restore(get_last_checkpoint(str(work)) if work.is_dir() else None)
        trainer.add_callback(callback)
    merge = s.lora is None or s.lora.merge
    result = run(trainer, out, tok, merge_lora=merge, on_step=on_step, source=prompts)
    if callback is not None and trainer.is_world_process_zero():
        (out / MULTIPLIER_FILE).write_text(json.dumps(callback._state(), indent=2))
    return result


def rl_trainer(name: str, tok: Any, dataset: Any, reward_fn: Any, s: RLSettings, out: Path) -> Any:
    """TRL's GRPO or RLOO trainer over any reward function with TRL's signature."""
    if s.micro_batches > 1:
        raise UserError(
            "rl: micro_batches is for SFT, reward and DPO; online RL cuts its generation "
            "batch itself (trl: {steps_per_generation: N})"
        )
    compact_lm_head()
    common = {
        **trainer_kwargs(s, out / "checkpoints", split=False),
        "num_generations": s.num_generations,
        "max_completion_length": s.max_completion_length,
        "temperature": s.temperature,
        "beta": s.beta,
        "logging_steps": 1,
        "model_init_kwargs": {"dtype": "auto"},
    }
    if s.algorithm == "rloo":
        from trl import RLOOConfig, RLOOTrainer

        return RLOOTrainer(
            model=name,
            reward_funcs=[cast(Any, reward_fn)],
            args=trl_config(RLOOConfig, s, **common),
            train_dataset=dataset,
            processing_class=tok,
            peft_config=peft_config(s),
        )
    from trl import GRPOConfig, GRPOTrainer

    return GRPOTrainer(
        model=name,
        reward_funcs=[cast(Any, reward_fn)],
        args=trl_config(GRPOConfig, s, **common),
        train_dataset=dataset,
        processing_class=tok,
        peft_config=peft_config(s),
    )
