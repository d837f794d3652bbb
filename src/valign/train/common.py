"""What every training run shares: settings, resuming, progress and the exported folder.

Every trainer in valign (pretraining, SFT, reward and cost models, DPO, online RL) is a
Hugging Face or TRL trainer driven through the same three steps:

1. ``trainer_kwargs``  the common ``TrainingArguments`` fields from :class:`TrainSettings`
2. ``fit``             train, resuming from the last checkpoint in ``work/`` after a kill;
                       a run that already reached its last step is reloaded, not retrained
3. ``export``          write the final model folder atomically (a crash leaves the old
                       folder or the new one, never half of one)
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import PrinterCallback, Trainer, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from valign.errors import UserError
from valign.models.hf import quiet_hub_progress
from valign.models.threads import set_threads
from valign.train.microbatch import micro_batch_fields, use_micro_batches

T = TypeVar("T")
R = TypeVar("R")


class LoraSettings(BaseModel):
    """Low-rank adapters (PEFT) instead of full fine-tuning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    r: int = Field(16, description="Adapter rank.")
    alpha: int = Field(32, description="Adapter scaling (lora_alpha).")
    dropout: float = Field(0.05, description="Dropout on the adapter input.")
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules that get adapters ('all-linear' or a list of names)."
    )
    merge: bool = Field(True, description="Merge the adapters into the exported weights.")


class TrainSettings(BaseModel):
    """Settings shared by every trainer; each stage adds its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = Field(1e-3, description="Peak learning rate.")
    epochs: float = Field(1.0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many steps (overrides epochs if > 0).")
    batch_size: int = Field(32, description="Examples per device per optimiser step.")
    grad_accum: int = Field(1, description="Gradient accumulation steps.")
    max_length: int = Field(256, description="Longest tokenised example; longer ones are cut.")
    warmup_ratio: float = Field(0.05, description="Share of steps spent warming up.")
    lr_scheduler: str = Field("cosine", description="Learning-rate schedule.")
    weight_decay: float = Field(0.0, description="AdamW weight decay.")
    save_steps: int = Field(100, description="Checkpoint interval, for resuming after a kill.")
    seed: int = Field(0, description="Seed for initialisation and data order.")
    threads: int = Field(0, description="CPU threads for torch (0: leave torch's default).")
    bf16: bool | None = Field(
        None, description="bfloat16 (None: on where the GPU or CPU supports it)."
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass (saves memory)."
    )
    lora: LoraSettings | None = Field(None, description="Train LoRA adapters (PEFT).")
    group_by_length: bool = Field(
        False,
        description="Batch examples of similar length together (less padding: faster, "
        "above all on a CPU); the order is still random from batch to batch, and seeded.",
    )
    micro_batches: int = Field(
        0,
        ge=0,
        description="Cut each optimiser batch, sorted by length, into this many micro-batches "
        "and accumulate their gradients: the same examples and the same update, less padding "
        "(0: 4 on a CPU, 1 on a GPU; SFT, reward and DPO; valign.train.microbatch).",
    )
    trl: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields passed as they are to TRL's config (SFTConfig, DPOConfig, "
        "RewardConfig, GRPOConfig/RLOOConfig): anything it accepts, e.g. report_to, "
        "eval_strategy, use_vllm, gradient_accumulation_steps. They win over valign's.",
    )


@dataclass
class TrainResult:
    """What a finished run reports; ``log`` is the trainer's log history (loss, rewards...)."""

    model_dir: Path
    steps: int
    train_loss: float
    seconds: float
    log: list[dict[str, float]] = field(default_factory=list)
    processes: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_dir"] = str(self.model_dir)
        return d

    def series(self, key: str) -> list[tuple[float, float]]:
        """(step, value) pairs of one logged quantity, e.g. ``loss`` or ``lambda``."""
        return [(float(h["step"]), float(h[key])) for h in self.log if key in h]


def use_bf16(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_liger(flag: bool | None) -> bool:
    """Liger's Triton kernels (RMSNorm, SwiGLU, rotary embeddings): on a CUDA GPU where
    ``liger-kernel`` is installed, unless set. TRL already computes the loss through a chunked
    LM head, without the full logits, so Liger's fused linear cross-entropy is not used."""
    if flag is not None:
        return flag
    import importlib.util

    return torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None


def compact_lm_head() -> None:
    """Let TRL's fused LM head score only the labelled positions on a CPU too.

    TRL's SFT and DPO trainers replace the model's LM head with a chunked log-probability
    function. On Triton devices it projects only the positions with a label (the replies);
    elsewhere it projects every position, prompt and padding included, so that devices that
    compile per tile shape do not recompile at every batch. A CPU compiles nothing, and there
    the projection and its backward pass were about half of an SFT or DPO step (the demo's
    replies are 13–16% of the positions): scoring only the labelled ones makes those steps
    about 1.9 times faster with the same loss and log-probabilities (BENCHMARKS.md, "Training
    stages beside a plain PyTorch loop"). TRL is pinned exactly; the choice is its module's
    ``_use_triton``, which that module reads for nothing else (a test checks both)."""
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None or hasattr(original, "original"):  # absent, or switched already
        return

    def compact_on_cpu(device: torch.device) -> bool:
        return device.type == "cpu" or bool(original(device))

    compact_on_cpu.original = original  # type: ignore[attr-defined]
    trl_utils._use_triton = compact_on_cpu


def _text(value: Any) -> str:
    """The text of a row (messages, prompt, replies), joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_text(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(_text(v) for v in value)
    return ""


def row_lengths(rows: Sequence[Any], tok: Any = None) -> list[int]:
    """Tokens of each row's text with ``tok`` (characters without one): the length that
    :func:`length_grouped_order` groups by."""
    texts = [_text(r) for r in rows]
    if tok is None:
        return [len(t) for t in texts]
    return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]


def length_grouped_order(
    lengths: Sequence[int], batch: int, seed: int, window: int = 50
) -> list[int]:
    """Row indices in an order whose consecutive ``batch``-sized batches hold rows of similar
    length: shuffled, cut into windows of ``window`` batches, each window sorted longest
    first and cut into batches, and the batches shuffled (the scheme of transformers'
    length-grouped sampler, applied before tokenising so that it works for every trainer)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batch = max(1, batch)
    batches: list[list[int]] = []
    size = batch * max(1, window)
    for start in range(0, len(order), size):
        chunk = sorted(order[start : start + size], key=lambda i: -lengths[i])
        batches += [chunk[k : k + batch] for k in range(0, len(chunk), batch)]
    # A short last batch stays last: anywhere else it would shift every later batch's bounds.
    tail = [batches.pop()] if batches and len(batches[-1]) < batch else []
    rng.shuffle(batches)
    return [i for b in batches + tail for i in b]


def length_grouped(
    rows: Sequence[R], s: TrainSettings, tok: Any = None
) -> tuple[list[R], dict[str, Any]]:
    """``rows`` and the extra trainer fields for ``s.group_by_length``: with it, the rows in
    a length-grouped order (:func:`length_grouped_order`, by ``tok``'s token counts) that the
    trainer reads in turn; without it, the rows as they are for the trainer's own shuffle."""
    if not s.group_by_length:
        return list(rows), {}
    order = length_grouped_order(row_lengths(rows, tok), s.batch_size, s.seed)
    return [rows[i] for i in order], {"train_sampling_strategy": "sequential"}


def trl_config(config_class: type[T], s: TrainSettings, **fields: Any) -> T:
    """TRL's config from valign's ``fields`` and the settings' ``trl`` section on top; a
    field TRL does not know is a one-line error naming it."""
    merged = {**fields, **s.trl}
    known = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(s.trl) - known)
    if unknown:
        raise UserError(
            f"trl: {', '.join(unknown)} not a field of TRL's {config_class.__name__} "
            f"(TRL {importlib.metadata.version('trl')})"
        )
    try:
        return config_class(**merged)
    except (TypeError, ValueError) as exc:
        raise UserError(f"trl: {config_class.__name__} refused the settings: {exc}") from None


def micro_batches(s: TrainSettings) -> int:
    """Micro-batches per optimiser batch: the setting, or 4 on a CPU and 1 on a GPU (where
    padding costs less than small kernels), never more than the batch has examples; one
    when the ``trl`` section sets the batch fields itself (they win, as they are)."""
    if {"per_device_train_batch_size", "gradient_accumulation_steps"} & s.trl.keys():
        return 1
    k = s.micro_batches or (1 if torch.cuda.is_available() else 4)
    return max(1, min(k, s.batch_size))


def sorted_micro_batches(trainer: T, s: TrainSettings) -> T:
    """``trainer`` reading its batches as :func:`micro_batches` sorted micro-batches
    (``valign.train.microbatch``); its arguments come from :func:`trainer_kwargs`."""
    return cast(T, use_micro_batches(trainer, s.batch_size, s.grad_accum, micro_batches(s)))


def trainer_kwargs(s: TrainSettings, work: Path, split: bool = True) -> dict[str, Any]:
    """The ``TrainingArguments`` fields every valign trainer sets the same way; ``split``
    cuts each batch into :func:`micro_batches` (online RL's batch is its generation batch,
    which TRL cuts itself: it passes False)."""
    set_threads(s.threads)
    quiet_libraries()
    return {
        "output_dir": str(work),
        **micro_batch_fields(s.batch_size, s.grad_accum, micro_batches(s) if split else 1),
        "num_train_epochs": s.epochs,
        "max_steps": s.max_steps,
        "learning_rate": s.learning_rate,
        "lr_scheduler_type": s.lr_scheduler,
        "warmup_steps": s.warmup_ratio,
        "weight_decay": s.weight_decay,
        "max_grad_norm": 1.0,
        "logging_steps": 1 if 0 < s.max_steps <= 20 else 5,
        "save_strategy": "steps",
        "save_steps": s.save_steps,
        "save_total_limit": 2,
        "seed": s.seed,
        "data_seed": s.seed,
        "report_to": [],
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "use_cpu": not torch.cuda.is_available(),
        "bf16": use_bf16(s.bf16),
        "activation_checkpointing": s.gradient_checkpointing,
    }


def quiet_libraries() -> None:
    """No per-map progress bars from datasets nor per-shard bars from transformers: the
    training commands draw one bar of optimiser steps instead; and not TRL 1.16's call of a
    transformers attribute deprecated for v6, repeated at every generation step."""
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings(
        "ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning
    )


def peft_config(s: TrainSettings, task_type: str = "CAUSAL_LM") -> Any:
    """A PEFT ``LoraConfig`` from the settings, or None for full fine-tuning."""
    if s.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=s.lora.r,
        lora_alpha=s.lora.alpha,
        lora_dropout=s.lora.dropout,
        target_modules=s.lora.target_modules,
        task_type=task_type,
    )


class ProgressCallback(TrainerCallback):
    """Forwards each finished step to an optional callable (the CLI's progress bar)."""

    def __init__(self, on_step: Any = None) -> None:
        self.on_step = on_step

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.on_step is not None:
            self.on_step(state.global_step, state.max_steps)


def checkpoint_state(path: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((Path(path) / "trainer_state.json").read_text())
    return state


def fit(trainer: Trainer, on_step: Any = None) -> tuple[int, float, list[dict[str, Any]]]:
    """Train, resuming from the last checkpoint; returns (steps, loss, log history).

    A run whose last checkpoint already reached ``max_steps`` (it was killed while
    exporting) is reloaded from that checkpoint instead of being trained past its end.
    """
    trainer.add_callback(ProgressCallback(on_step))
    trainer.remove_callback(PrinterCallback)  # progress goes through on_step, not print()
    work = Path(str(trainer.args.output_dir))
    last = get_last_checkpoint(str(work)) if work.is_dir() else None
    if last is not None:
        state = checkpoint_state(last)
        if int(state["global_step"]) >= int(state["max_steps"]):
            trainer._load_from_checkpoint(last)
            return int(state["global_step"]), float("nan"), list(state["log_history"])
    with quiet_hub_progress():  # no bar per checkpoint save
        result = trainer.train(resume_from_checkpoint=last)
    return int(result.global_step), float(result.training_loss), trainer.state.log_history


def export(model: Any, tokenizer: Any, out: Path, merge_lora: bool = True) -> Path:
    """Save weights, config and tokenizer (with its chat template) to ``out`` atomically."""
    if merge_lora and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if getattr(model, "generation_config", None) is not None and tokenizer is not None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    with quiet_hub_progress():
        model.save_pretrained(str(tmp))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def run(
    trainer: Trainer,
    out: Path,
    tokenizer: Any,
    merge_lora: bool = True,
    on_step: Any = None,
    source: Any = None,
) -> TrainResult:
    """``fit`` then ``export`` to ``out/model``; the result every stage records. ``source``,
    the training data's file or dataset id when there is one, goes into the model card.

    Under ``accelerate launch`` every process trains; only the main one writes the model
    and ``out/train.json``, and the others wait for it, so all return a complete folder.
    """
    t0 = time.perf_counter()
    steps, loss, history = fit(trainer, on_step)
    seconds = time.perf_counter() - t0
    model_dir = out / "model"
    log = [
        {k: float(v) for k, v in h.items() if isinstance(v, int | float)}
        for h in history
        if "step" in h
    ]
    result = TrainResult(model_dir, steps, loss, seconds, log, int(trainer.args.world_size))
    if trainer.is_world_process_zero():
        export(trainer.model, tokenizer, model_dir, merge_lora)
        summary = {k: v for k, v in result.to_dict().items() if k != "log"}
        (out / "train.json").write_text(json.dumps(summary, indent=2))
        from valign.train.card import write_model_card

        named = str(source) if isinstance(source, str | Path) else None
        write_model_card(trainer, model_dir, summary, named)
    trainer.accelerator.wait_for_everyone()
    return result


def chat_tokenizer(model: str | Path, **kw: Any) -> tuple[str, Any]:
    """(model name, its tokenizer); a model without a chat template is a user error, since
    every valign trainer renders conversations with the model's own template."""
    from transformers import AutoTokenizer

    name = require_model_dir(model)
    tok = AutoTokenizer.from_pretrained(name, **kw)
    if not tok.chat_template:
        raise UserError(f"{model}: the tokenizer has no chat template")
    return name, tok


def require_model_dir(path: str | Path, what: str = "model") -> str:
    """A local model folder must exist; a packaged model's name becomes its cached folder
    (converted on first use); anything else is passed on as a hub id."""
    from valign.models.packaged import ensure_packaged, is_packaged

    p = Path(path)
    if not p.exists() and is_packaged(str(path)):
        return str(ensure_packaged(str(path)))
    looks_local = p.is_absolute() or str(path).startswith(".") or p.exists()
    if looks_local and not (p / "config.json").is_file():
        raise UserError(f"{what} not found: {path} (a folder with config.json, or a hub id)")
    return str(path)
