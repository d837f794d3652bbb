"""An activation store on disk, as :func:`valign.interp.capture.capture` writes it.

    store/
      store.json              sites, widths, dtype, totals, capture speed
      index.jsonl             one line per record: id, kind, row, n_tokens, tokens, offsets, text
      shard-00000.safetensors one (rows, width) array per site; rows are consecutive tokens

Rows are numbered over the whole store: record ``r`` owns rows ``r.row .. r.row+n_tokens``.
Reading one site loads only that site's arrays (safetensors reads tensors by name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open

from valign.errors import UserError
from valign.interp.capture import INDEX_FILE, META_FILE


@dataclass(frozen=True)
class StoredRecord:
    """One record's place in the store and its tokens."""

    id: str
    kind: str | None
    row: int
    n_tokens: int
    tokens: list[str]
    offsets: list[list[int]]
    text: str

    @property
    def rows(self) -> slice:
        return slice(self.row, self.row + self.n_tokens)


class ActivationStore:
    """Read access to a store folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / META_FILE).is_file():
            raise UserError(f"not an activation store (no {META_FILE}): {self.path}")
        self.meta: dict[str, Any] = json.loads((self.path / META_FILE).read_text())

    @property
    def sites(self) -> list[str]:
        return list(self.meta["sites"])

    @cached_property
    def records(self) -> list[StoredRecord]:
        with (self.path / INDEX_FILE).open(encoding="utf-8") as handle:
            return [StoredRecord(**json.loads(line)) for line in handle if line.strip()]

    def load(self, site: str) -> np.ndarray:
        """Every token's activations at ``site``, ``(total_tokens, width)`` float32."""
        if site not in self.sites:
            raise UserError(f"site {site} is not in the store (it has {', '.join(self.sites)})")
        parts = []
        for shard in sorted(self.path.glob("shard-*.safetensors")):
            with safe_open(str(shard), framework="numpy") as f:
                parts.append(f.get_tensor(site))
        if not parts:
            return np.zeros((0, int(self.meta["widths"].get(site, 0))), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)
