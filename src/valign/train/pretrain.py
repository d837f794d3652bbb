"""Pretrain the microworld's base model: a small Llama-style causal LM, from scratch.

Phases, in order (each a function below):

1. ``fit_tokenizer``   byte-level BPE on the corpus, with the chat template
2. ``pack_corpus``     render dialogues with the chat template, tokenise, pack into blocks
3. ``build_model``     a standard ``LlamaForCausalLM`` from a small ``LlamaConfig``
4. ``train``           Hugging Face ``Trainer``; checkpoints every ``save_steps`` so a killed
                       run resumes where it stopped (``resume_from_checkpoint``)
5. ``export``          the final model folder: weights, config, tokenizer with chat template,
                       loadable by ``AutoModelForCausalLM`` / ``AutoTokenizer``

Pretraining loss covers every token (the corpus is unlabelled text); the SFT stage masks
its loss to assistant turns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from valign.errors import UserError
from valign.models.threads import set_threads
from valign.records.sources import iter_rows
from valign.train.common import export, fit, use_bf16
from valign.train.tokenizer import save_tokenizer, train_tokenizer


class PretrainConfig(BaseModel):
    """Settings of the base model and its pretraining run (defaults: minutes on 2 CPU cores)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(2048, description="BPE vocabulary size.")
    hidden_size: int = Field(128, description="Width of the residual stream (d_model).")
    intermediate_size: int = Field(384, description="Width of the MLP.")
    num_layers: int = Field(4, description="Number of transformer blocks.")
    num_heads: int = Field(4, description="Attention heads per block.")
    seq_len: int = Field(128, description="Tokens per training block.")
    batch_size: int = Field(16, description="Blocks per optimiser step.")
    epochs: float = Field(1.7, description="Passes over the packed corpus.")
    max_steps: int = Field(-1, description="Stop after this many steps (overrides epochs if > 0).")
    learning_rate: float = Field(3e-3, description="Peak learning rate (cosine decay, warm-up).")
    warmup_ratio: float = Field(0.03, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.01, description="AdamW weight decay.")
    save_steps: int = Field(100, description="Checkpoint interval, for resuming after a kill.")
    seed: int = Field(0, description="Seed for initialisation and data order.")
    threads: int = Field(0, description="CPU threads for torch (0: leave torch's default).")
    bf16: bool | None = Field(
        None, description="bfloat16 autocast (None: on where the GPU or CPU supports it)."
    )


@dataclass
class PretrainResult:
    model_dir: Path
    steps: int
    train_loss: float
    tokens: int
    seconds: float
    log: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_dir"] = str(self.model_dir)
        return d


def read_corpus(path: str | Path) -> Iterator[dict[str, Any]]:
    """Documents (``text`` or ``messages``) from a JSONL or Parquet file or a Hugging Face
    dataset id (``valign.records.sources``)."""
    for where, doc in iter_rows(path, "corpus"):
        if not ({"text", "messages"} & doc.keys()):
            raise UserError(f"{where}: a document needs 'text' or 'messages'")
        yield doc


def _render(doc: dict[str, Any], tok: PreTrainedTokenizerFast) -> str:
    """A document as training text: prose between bos and end, dialogues via the chat template."""
    if "messages" in doc:
        text = tok.apply_chat_template(doc["messages"], tokenize=False)
        return str(text)
    return f"{tok.bos_token}{doc['text']}{tok.eos_token}\n"


def fit_tokenizer(corpus: Path, vocab_size: int) -> PreTrainedTokenizerFast:
    def texts() -> Iterator[str]:
        for doc in read_corpus(corpus):
            if "messages" in doc:
                yield from (m["content"] for m in doc["messages"])
            else:
                yield doc["text"]

    return train_tokenizer(texts(), vocab_size=vocab_size)


def pack_corpus(corpus: Path, tok: PreTrainedTokenizerFast, seq_len: int) -> torch.Tensor:
    """All documents, rendered and concatenated, cut into blocks: (n_blocks, seq_len)."""
    texts = [_render(d, tok) for d in read_corpus(corpus)]
    ids: list[int] = []
    for enc in tok(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(enc)
    n = len(ids) // seq_len
    if n == 0:
        raise UserError(f"corpus too small: {len(ids)} tokens, fewer than one block of {seq_len}")
    return torch.tensor(ids[: n * seq_len], dtype=torch.long).view(n, seq_len)


class _Blocks(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, blocks: torch.Tensor) -> None:
        self.blocks = blocks  # (n_blocks, seq_len)

    def __len__(self) -> int:
        return self.blocks.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x = self.blocks[i]
        return {"input_ids": x, "labels": x}


def build_model(cfg: PretrainConfig, tok: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(1024, cfg.seq_len),
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def _training_args(
    cfg: PretrainConfig, work: Path, max_steps: int, save: bool
) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=cfg.batch_size,
        max_steps=max_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, int(cfg.warmup_ratio * max_steps)),
        weight_decay=cfg.weight_decay,
        adam_beta2=0.98,
        max_grad_norm=1.0,
        logging_steps=max(1, min(20, max_steps // 20)),
        save_strategy="steps" if save else "no",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=use_bf16(cfg.bf16),
    )


def pretrain(corpus: Path, out: Path, cfg: PretrainConfig, on_step: Any = None) -> PretrainResult:
    """Run every phase; safe to call again after a kill (it resumes from the last checkpoint).

    Under ``accelerate launch``/``torchrun`` every process trains on its share of each batch;
    the main one fits the tokenizer (the others read it) and writes the model."""
    import time

    from accelerate import PartialState

    set_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "checkpoints"
    tok_dir = out / "tokenizer"
    with PartialState().main_process_first():
        if (tok_dir / "tokenizer.json").is_file():
            tok = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
        else:
            tok = fit_tokenizer(corpus, cfg.vocab_size)
            save_tokenizer(tok, tok_dir)
    blocks = pack_corpus(corpus, tok, cfg.seq_len)
    model = build_model(cfg, tok)
    steps_per_epoch = math.ceil(blocks.shape[0] / cfg.batch_size)
    max_steps = cfg.max_steps if cfg.max_steps > 0 else max(1, int(steps_per_epoch * cfg.epochs))
    args = _training_args(cfg, work, max_steps, save=True)
    trainer = Trainer(model=model, args=args, train_dataset=_Blocks(blocks))
    t0 = time.perf_counter()
    steps, loss, history = fit(trainer, on_step)  # resumes; a finished run is reloaded
    seconds = time.perf_counter() - t0
    final = out / "model"
    if trainer.is_world_process_zero():
        export(trainer.model, tok, final, merge_lora=False)
    trainer.accelerator.wait_for_everyone()
    return PretrainResult(
        model_dir=final,
        steps=steps,
        train_loss=loss,
        tokens=steps * cfg.batch_size * cfg.seq_len * int(args.world_size),
        seconds=seconds,
        log=[{"step": float(h["step"]), "loss": float(h["loss"])} for h in history if "loss" in h],
    )
