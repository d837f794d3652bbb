"""Read activations at named sites: in memory for one batch, or streamed to disk in shards.

:func:`recording` hooks the sites for the duration of a ``with`` block and keeps the last
forward pass's activations. :func:`capture` runs a model over any number of texts and
writes an *activation store* (see :mod:`valign.interp.store`): memory stays bounded by
one shard (``shard_tokens`` rows per site) plus one batch, whatever the number of texts.

Only real tokens are kept: a batch is right-padded and padding rows are dropped before
anything is buffered, so a token's activations never depend on the batch it fell in
(up to float rounding).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save_file
from torch import nn

from valign.interp.sites import Site, first_tensor, site_module
from valign.interp.texts import TextRecord
from valign.records.runs import atomic_write_json

INDEX_FILE = "index.jsonl"
META_FILE = "store.json"


@contextmanager
def recording(model: nn.Module, sites: Sequence[Site]) -> Iterator[dict[str, torch.Tensor]]:
    """Hook ``sites``; the yielded dict maps site name to the last forward's activations,
    each ``(batch, seq, width)``, detached. Hooks are removed on exit, even on error."""
    acts: dict[str, torch.Tensor] = {}
    handles = []

    def output_hook(name: str) -> Any:
        def hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
            acts[name] = first_tensor(out).detach()

        return hook

    def input_hook(name: str) -> Any:
        def hook(_mod: nn.Module, inp: Any) -> None:
            acts[name] = first_tensor(inp).detach()

        return hook

    try:
        for site in sites:
            mod = site_module(model, site)
            if site.kind == "mlp":
                handles.append(mod.register_forward_pre_hook(input_hook(site.name)))
            else:
                handles.append(mod.register_forward_hook(output_hook(site.name)))
        yield acts
    finally:
        for h in handles:
            h.remove()


@dataclass(frozen=True)
class CaptureConfig:
    """How to capture.

    Attributes:
        batch_size: Texts per forward pass.
        max_tokens: Texts longer than this are cut (tokens); bounds one batch's memory.
        shard_tokens: Token rows per shard file; bounds the buffer (rows x width x sites).
        dtype: Stored precision, "float16" (half the disk) or "float32".
    """

    batch_size: int = 16
    max_tokens: int = 256
    shard_tokens: int = 32768
    dtype: str = "float16"


@dataclass
class CaptureSummary:
    """What a capture wrote and how fast it went."""

    records: int = 0
    tokens: int = 0
    shards: int = 0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    sites: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_s": round(self.tokens_per_s, 1)}


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _tokenize(tokenizer: Any, texts: list[str], max_tokens: int) -> list[dict[str, Any]]:
    enc = tokenizer(
        texts,
        add_special_tokens=False,
        truncation=True,
        max_length=max_tokens,
        return_offsets_mapping=True,
    )
    return [
        {"ids": list(ids), "offsets": [list(o) for o in offs]}
        for ids, offs in zip(enc["input_ids"], enc["offset_mapping"], strict=True)
    ]


def forward_batch(
    model: nn.Module, token_ids: list[list[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(input_ids, attention_mask)``, each ``(batch, seq)``, run through
    ``model`` (hooks collect what they need)."""
    seq = max(len(t) for t in token_ids)
    ids = torch.full((len(token_ids), seq), pad_id, dtype=torch.long)  # (batch, seq)
    mask = torch.zeros((len(token_ids), seq), dtype=torch.long)  # (batch, seq)
    for row, t in enumerate(token_ids):
        ids[row, : len(t)] = torch.tensor(t, dtype=torch.long)
        mask[row, : len(t)] = 1
    device = next(model.parameters()).device
    with torch.inference_mode():
        model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
    return ids, mask


class _ShardWriter:
    """Buffers token rows per site and writes a shard file whenever enough have gathered."""

    def __init__(self, out: Path, sites: Sequence[Site], config: CaptureConfig) -> None:
        self.out, self.sites, self.config = out, sites, config
        self.buffers: dict[str, list[np.ndarray]] = {s.name: [] for s in sites}
        self.rows = 0  # buffered rows
        self.shards = 0

    def add(self, acts: dict[str, np.ndarray]) -> None:  # each (tokens, width)
        for name, a in acts.items():
            self.buffers[name].append(a)
        self.rows += next(iter(acts.values())).shape[0]
        if self.rows >= self.config.shard_tokens:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        tensors = {name: np.concatenate(parts) for name, parts in self.buffers.items()}
        save_file(tensors, str(self.out / f"shard-{self.shards:05d}.safetensors"))
        self.shards += 1
        self.buffers = {s.name: [] for s in self.sites}
        self.rows = 0


def capture(
    model: nn.Module,
    tokenizer: Any,
    records: Iterable[TextRecord],
    sites: Sequence[Site],
    out: Path,
    config: CaptureConfig = CaptureConfig(),
) -> CaptureSummary:
    """Run ``model`` over ``records`` and write an activation store into ``out``.

    Writes ``shard-NNNNN.safetensors`` (one ``(rows, width)`` array per site, rows being
    consecutive tokens), ``index.jsonl`` (per record: id, kind, first row, tokens, their
    character offsets, the text) and ``store.json`` (sites, widths, totals, speed).
    """
    out.mkdir(parents=True, exist_ok=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    np_dtype = np.float16 if config.dtype == "float16" else np.float32
    writer = _ShardWriter(out, sites, config)
    summary = CaptureSummary(sites=[s.name for s in sites])
    start = time.perf_counter()
    widths: dict[str, int] = {}
    with (
        recording(model, sites) as acts,
        (out / INDEX_FILE).open("w", encoding="utf-8") as index,
    ):
        for batch in _batches(records, config.batch_size):
            encoded = _tokenize(tokenizer, [r.text for r in batch], config.max_tokens)
            keep = [i for i, e in enumerate(encoded) if e["ids"]]
            if not keep:
                continue
            _, mask = forward_batch(model, [encoded[i]["ids"] for i in keep], pad_id)
            valid = mask.bool().reshape(-1)  # (batch * seq,)
            flat = {}
            for name, a in acts.items():  # (batch, seq, width)
                flat[name] = a.reshape(-1, a.shape[-1])[valid.to(a.device)].float().cpu().numpy()
                widths[name] = a.shape[-1]
            writer.add({k: v.astype(np_dtype) for k, v in flat.items()})
            for i in keep:
                rec, enc = batch[i], encoded[i]
                row = {
                    "id": rec.id,
                    "kind": rec.kind,
                    "row": summary.tokens,
                    "n_tokens": len(enc["ids"]),
                    "tokens": [tokenizer.decode([t]) for t in enc["ids"]],
                    "offsets": enc["offsets"],
                    "text": rec.text,
                }
                index.write(json.dumps(row, ensure_ascii=False) + "\n")
                summary.tokens += len(enc["ids"])
                summary.records += 1
        writer.flush()
    summary.shards = writer.shards
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.peak_rss_mib = round(peak_rss_mib(), 1)
    meta = {
        **summary.to_dict(),
        "widths": widths,
        "dtype": config.dtype,
        "model": type(model).__name__,
    }
    atomic_write_json(out / META_FILE, meta)
    return summary


def _batches(records: Iterable[TextRecord], size: int) -> Iterator[list[TextRecord]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def pooled_activations(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    sites: Sequence[Site],
    *,
    pool: str = "last",
    batch_size: int = 32,
    max_tokens: int = 256,
) -> dict[str, np.ndarray]:
    """One vector per text and site, ``(n_texts, width)``: the last token's activations
    (``pool="last"``, where a prompt ends and the reply is decided) or the mean over tokens.
    For probes and steering directions, which need one point per example."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    parts: dict[str, list[np.ndarray]] = {s.name: [] for s in sites}
    with recording(model, sites) as acts:
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            ids = [e["ids"][-max_tokens:] or [pad_id] for e in _tokenize(tokenizer, chunk, 10**9)]
            _, mask = forward_batch(model, ids, pad_id)
            lengths = mask.sum(1)  # (batch,)
            for name, a in acts.items():  # (batch, seq, width)
                a = a.float().cpu()
                if pool == "last":
                    vec = a[torch.arange(len(ids)), lengths - 1]  # (batch, width)
                else:
                    m = mask.unsqueeze(-1).float()  # (batch, seq, 1)
                    vec = (a * m).sum(1) / m.sum(1)  # (batch, width)
                parts[name].append(vec.numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}
