"""Direct preference optimisation from comparison files, with TRL's ``DPOTrainer``.

The offline alternative to reward modelling plus online RL: the policy is fitted to the
comparisons directly, with the starting model as the implicit reference. The reference
log-probabilities are computed once before training (``precompute_ref``), so the
reference model is not kept in memory nor run at every step.

Unlike the decoupled reward model, DPO learns the comparisons' overall verdict: on a
harmful request the refusal is the chosen reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from valign.errors import UserError
from valign.records.comparisons import Comparison, load_comparisons, to_trl
from valign.train.common import (
    TrainResult,
    TrainSettings,
    chat_tokenizer,
    compact_lm_head,
    length_grouped,
    peft_config,
    run,
    sorted_micro_batches,
    trainer_kwargs,
    trl_config,
    use_liger,
)


class DPOSettings(TrainSettings):
    """DPO (defaults: the microworld's SFT model on 2 CPU cores)."""

    learning_rate: float = Field(2e-5, description="Peak learning rate.")
    epochs: float = Field(1.0, description="Passes over the comparisons.")
    batch_size: int = Field(32, description="Pairs per optimiser step.")
    beta: float = Field(0.1, description="Strength of the implicit KL anchor to the reference.")
    loss_type: str = Field("sigmoid", description="TRL DPO loss (sigmoid, ipo, robust...).")
    label_smoothing: float = Field(
        0.0,
        ge=0.0,
        lt=0.5,
        description="Assumed share of flipped labels (conservative DPO with the sigmoid "
        "loss, the robust loss's epsilon); for soft labels, 1 minus their mean confidence.",
    )
    precompute_ref: bool = Field(
        True, description="Compute the reference log-probabilities once, before training."
    )
    liger: bool | None = Field(
        None,
        description="Liger layer kernels (None: on if CUDA and liger-kernel are present).",
    )


def dpo_rows(rows: Sequence[Comparison]) -> list[dict[str, Any]]:
    """Comparisons in TRL's conversational preference form."""
    return [to_trl(r) for r in rows]


def dpo_trainer(model: str | Path, rows: Sequence[Comparison], out: Path, s: DPOSettings) -> Any:
    """The configured TRL trainer; with ``precompute_ref`` the reference log-probabilities
    are computed here, before it is returned."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if not rows:
        raise UserError("no comparisons to train on")
    compact_lm_head()
    name, tok = chat_tokenizer(model)
    ordered, order = length_grouped(dpo_rows(rows), s, tok)
    args = trl_config(
        DPOConfig,
        s,
        **trainer_kwargs(s, out / "checkpoints"),
        **order,
        max_length=s.max_length,
        beta=s.beta,
        loss_type=[s.loss_type],
        label_smoothing=s.label_smoothing,
        precompute_ref_log_probs=s.precompute_ref,
        precompute_ref_batch_size=max(64, s.batch_size),
        use_liger_kernel=use_liger(s.liger),
        model_init_kwargs={"dtype": "auto"},
    )
    trainer = DPOTrainer(
        model=name,
        args=args,
        train_dataset=Dataset.from_list(ordered),
        processing_class=tok,
        peft_config=peft_config(s),
    )
    return sorted_micro_batches(trainer, s)


def train_dpo(
    model: str | Path,
    data: Path | Sequence[Comparison],
    out: Path,
    s: DPOSettings,
    on_step: Any = None,
) -> TrainResult:
    """Fit ``model`` to the comparisons; the result is in ``out/model``."""
    rows = load_comparisons(data) if isinstance(data, Path) else list(data)
    trainer = dpo_trainer(model, rows, out, s)
    merge = s.lora is None or s.lora.merge
    return run(
        trainer, out, trainer.processing_class, merge_lora=merge, on_step=on_step, source=data
    )
