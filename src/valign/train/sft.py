"""Supervised fine-tuning on demonstrations, with TRL's ``SFTTrainer``.

Demonstrations come in TRL's standard dataset formats, one row each, from a JSONL or Parquet
file or a Hugging Face dataset id (``org/name[:split]``; ``valign.records.sources``):

* conversational: ``{"messages": [..., {"role": "assistant", "content": "..."}]}``, a
  conversation ending in the reply;
* prompt–completion: ``{"prompt": "...", "completion": "..."}``, or conversational with
  ``prompt`` a list of turns ending in the user's and ``completion`` one assistant turn;
* language modelling: ``{"text": "..."}``, plain text (a file of these only).

Conversations are handed to TRL in its conversational prompt–completion form, so the loss
covers only the reply and its end-of-turn token, never the user's words: the model learns to
answer, not to imitate the user. The chat template and the end token are the model's own
(``tokenizer.chat_template``). Plain ``text`` rows train on every token, as TRL does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from valign.errors import UserError
from valign.records.messages import reply_text, to_messages
from valign.records.sources import iter_rows
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


class SFTSettings(TrainSettings):
    """Supervised fine-tuning (defaults: the microworld's base model on 2 CPU cores)."""

    learning_rate: float = Field(3e-4, description="Peak learning rate.")
    epochs: float = Field(3.0, description="Passes over the demonstrations.")
    batch_size: int = Field(32, description="Conversations per optimiser step.")
    packing: bool = Field(
        False, description="Pack several conversations into one sequence (padding-free)."
    )
    liger: bool | None = Field(
        None,
        description="Liger layer kernels (None: on if CUDA and liger-kernel are present).",
    )


def _conversation(raw: dict[str, Any], where: str) -> dict[str, Any]:
    if "messages" in raw:
        msgs = raw["messages"]
        if not isinstance(msgs, list) or len(msgs) < 2:
            raise UserError(f"{where}: 'messages' needs at least a user turn and a reply")
        prompt, reply = msgs[:-1], msgs[-1]
        if not isinstance(reply, dict) or reply.get("role") != "assistant":
            raise UserError(f"{where}: the last message must be the assistant's reply")
        completion = reply.get("content")
    elif "prompt" in raw and "completion" in raw:
        prompt = raw["prompt"]
        completion = reply_text(raw["completion"], where, "completion")
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
    elif isinstance(raw.get("text"), str):
        if not raw["text"]:
            raise UserError(f"{where}: 'text' must be a non-empty string")
        return {"text": raw["text"]}
    else:
        raise UserError(
            f"{where}: a demonstration needs 'messages', 'prompt' and 'completion', or 'text'"
        )
    try:
        turns = to_messages(prompt)
    except ValidationError as exc:
        raise UserError(f"{where}: bad message ({exc.errors()[0]['msg']})") from None
    if not turns or turns[-1]["role"] != "user":
        raise UserError(f"{where}: the turn before the reply must be the user's")
    if not isinstance(completion, str) or not completion:
        raise UserError(f"{where}: the reply must be a non-empty string")
    return {"prompt": turns, "completion": [{"role": "assistant", "content": completion}]}


def load_demonstrations(source: str | Path) -> list[dict[str, Any]]:
    """Demonstrations in TRL's conversational prompt–completion form (or all plain ``text``)
    from a file or dataset id (see the module docstring); errors name the file and line."""
    rows: list[dict[str, Any]] = []
    for where, raw in iter_rows(source, "demonstration file"):
        row = _conversation(raw, where)
        if rows and ("text" in row) != ("text" in rows[0]):
            raise UserError(f"{where}: 'text' rows and conversations cannot be mixed in one file")
        rows.append(row)
    if not rows:
        raise UserError(f"{source}: no demonstrations in the file")
    return rows


def sft_trainer(model: str | Path, rows: list[dict[str, Any]], out: Path, s: SFTSettings) -> Any:
    """The configured TRL trainer (its dataset tokenised, loss masked to the replies)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    compact_lm_head()
    name, tok = chat_tokenizer(model)
    rows, order = length_grouped(rows, s, tok)
    args = trl_config(
        SFTConfig,
        s,
        **trainer_kwargs(s, out / "checkpoints"),
        **order,
        max_length=s.max_length,
        packing=s.packing,
        padding_free=s.packing,
        completion_only_loss="prompt" in rows[0],  # plain text: every token
        use_liger_kernel=use_liger(s.liger),
        model_init_kwargs={"dtype": "auto"},
    )
    trainer = SFTTrainer(
        model=name,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=peft_config(s),
    )
    return sorted_micro_batches(trainer, s)


def sft(
    model: str | Path, data: str | Path, out: Path, s: SFTSettings, on_step: Any = None
) -> TrainResult:
    """Fine-tune ``model`` on the demonstrations in ``data`` (a file or a dataset id); the
    result is in ``out/model``."""
    trainer = sft_trainer(model, load_demonstrations(data), out, s)
    merge = s.lora is None or s.lora.merge
    return run(
        trainer, out, trainer.processing_class, merge_lora=merge, on_step=on_step, source=data
    )
