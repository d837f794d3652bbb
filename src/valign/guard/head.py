"""The trainable heads on the frozen encoder, and the ``guard.json`` of a saved guard.

The fast classifier and the refusal detector both put a small MLP (:class:`Head`) over the
shared sentence encoder and save it beside a ``guard.json``; this module holds what they
share, below both of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from valign.errors import UserError
from valign.guard.types import GUARD_FILE

FORMAT_VERSION = 1


@dataclass(frozen=True)
class HeadConfig:
    """How a head is trained (a few seconds on a CPU: the encoder stays frozen).

    Attributes:
        hidden: Width of the hidden layer (0: a linear head).
        epochs: Passes over the training set.
        batch_size: Examples per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        dropout: Dropout on the features and the hidden layer.
        seed: Seeds initialisation and shuffling.
        members: Heads trained with different seeds whose probabilities are averaged
            (steadier thresholds than any one head, at no noticeable cost).
    """

    hidden: int = 256
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-3
    dropout: float = 0.1
    seed: int = 0
    members: int = 3


class Head(nn.Module):
    """Features to logits: a one-hidden-layer MLP, or linear when ``hidden`` is 0."""

    def __init__(self, in_dim: int, n_out: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.in_dim, self.n_out, self.hidden = in_dim, n_out, hidden
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(in_dim, hidden),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, n_out),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)  # (batch, in_dim) -> (batch, n_out)
        return out


def read_guard_config(folder: Path) -> dict[str, Any]:
    """The parsed ``guard.json`` of a saved guard; a one-line error if it is missing or bad."""
    try:
        config = json.loads((folder / GUARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"not a saved guard folder (no readable {GUARD_FILE}): {folder}") from exc
    if not isinstance(config, dict):
        raise UserError(f"{folder / GUARD_FILE} is not a JSON object")
    if config.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise UserError(f"{folder} was saved by a newer valign (format {config['format']})")
    return config
