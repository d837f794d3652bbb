"""Steering: change a residual-stream site at inference with a forward hook.

Two interventions on the block output ``h`` ``(batch, seq, d)`` at every position, prompt
and generated tokens alike:

* ``add``:     ``h + strength * scale * u``  (activation addition, Turner et al. 2023);
* ``project``: ``h - strength * (h . u) u``  (directional ablation, Arditi et al. 2024;
  strength 1 removes the component along ``u`` entirely).

With ``positions="prompt"`` only the prompt's forward pass is changed; the reply's tokens
are then computed from the steered prompt (through the KV cache) but are not pushed
themselves, which keeps a model from repeating the direction's token over and over.

``u`` is a :class:`~valign.interp.directions.Direction`'s unit vector and ``scale`` its
class-mean distance, so ``add`` at strength 1 shifts by one class-mean gap. Strength 0
registers no hook at all, so it is exactly the unsteered model, bit for bit.

Optionally the intervention is *conditional* (after Lee et al. 2024, "Programming refusal
with conditional activation steering"): a gate reads another direction at the prompt's
last token and steers only the sequences whose projection passes a threshold, so that
requests the gate finds safe run unsteered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from valign.interp.directions import Direction
from valign.interp.probes import LinearProbe
from valign.interp.sites import first_tensor, parse_site, replace_first, site_module

Mode = Literal["add", "project"]
Positions = Literal["all", "prompt"]


@dataclass(frozen=True)
class Steer:
    """One intervention: a direction, how, and how strongly."""

    direction: Direction
    strength: float
    mode: Mode = "add"
    positions: Positions = "all"  # "prompt": only the prompt's forward pass, not new tokens


@dataclass(frozen=True)
class Gate:
    """Steer a sequence only when ``h . u > threshold`` at the gate's site, read at the
    first forward pass's last position (the prompt's last token)."""

    direction: Direction
    threshold: float


def _vector(direction: Direction, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(direction.unit, dtype=like.dtype, device=like.device)  # (d,)


def _intervene(h: torch.Tensor, steer: Steer, rows: torch.Tensor | None) -> torch.Tensor:
    """``h`` ``(batch, seq, d)`` steered on the rows where ``rows`` ``(batch,)`` is true."""
    u = _vector(steer.direction, h)  # (d,)
    if steer.mode == "add":
        delta = (steer.strength * steer.direction.scale * u).expand_as(h)  # (batch, seq, d)
    else:
        delta = -steer.strength * (h @ u).unsqueeze(-1) * u  # (batch, seq, d)
    if rows is not None:
        delta = delta * rows.to(h.dtype).view(-1, 1, 1)
    return h + delta


@contextmanager
def steering(model: nn.Module, steers: Sequence[Steer], gate: Gate | None = None) -> Iterator[None]:
    """Apply ``steers`` to every forward pass of ``model`` inside the ``with`` block.

    With a ``gate``, the first forward pass (the prompt) decides which sequences are
    steered, and later passes (one new token each, with a KV cache) keep that decision.
    """
    active = [s for s in steers if s.strength != 0]
    if not active:
        yield
        return
    state: dict[str, torch.Tensor | None] = {"rows": None}
    handles = []

    def gate_hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
        assert gate is not None
        h = first_tensor(out)  # (batch, seq, d)
        if state["rows"] is None or state["rows"].shape[0] != h.shape[0] or h.shape[1] > 1:
            score = h[:, -1] @ _vector(gate.direction, h)  # (batch,)
            state["rows"] = score > gate.threshold

    def steer_hook(steer: Steer) -> Any:
        def hook(_mod: nn.Module, _inp: Any, out: Any) -> Any:
            if steer.positions == "prompt" and first_tensor(out).shape[1] == 1:
                return None  # a decoding step (one new token): leave it alone
            rows = state["rows"] if gate is not None else None
            return replace_first(out, _intervene(first_tensor(out), steer, rows))

        return hook

    sites = [parse_site(s.direction.site) for s in active]
    for site in sites:
        if site.kind != "resid":
            raise ValueError(f"steering writes to resid sites only, not {site}")
    if gate is not None:
        gsite = parse_site(gate.direction.site)
        if gsite.kind != "resid" or gsite.layer > min(s.layer for s in sites):
            raise ValueError("the gate must read a resid site at or before the steered layers")
    try:
        if gate is not None:  # registered first: on a shared module it runs first
            handles.append(site_module(model, gsite).register_forward_hook(gate_hook))
        for steer, site in zip(active, sites, strict=True):
            handles.append(site_module(model, site).register_forward_hook(steer_hook(steer)))
        yield
    finally:
        for h in handles:
            h.remove()


def probe_gate(site: str, probe: LinearProbe, margin: float = 0.0) -> Gate:
    """The gate that opens where ``probe`` predicts the concept (logit > ``margin``).

    ``logit = w . (x - mean) / std + b > margin``  <=>  ``x . v > (w . mean / std - b + margin)``
    with ``v = w / std``; both sides are divided by ``|v|`` to use a unit direction.
    """
    v = probe.weight / probe.std
    norm = float(np.linalg.norm(v)) or 1.0
    threshold = (float(probe.weight @ (probe.mean / probe.std)) - probe.bias + margin) / norm
    return Gate(Direction(site, v / norm, 1.0, "probe", "gate"), threshold)
