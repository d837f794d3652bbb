"""Named places inside a causal LM where activations are read or changed (*sites*).

A site is named ``<kind>.<layer>``:

========  ====================================================================  ============
kind      what it is                                                            width
========  ====================================================================  ============
resid     the residual stream after decoder block ``layer`` (the block output)  d_model
attn      the attention sub-layer's output, before it joins the residual        d_model
mlp       the MLP *neurons*: the activations entering its down-projection       d_mlp
          (``down_proj`` in Llama/Mistral/Qwen, ``c_proj`` in GPT-2, ``fc2``...)
========  ====================================================================  ============

Sites are found by module structure, not by model class, so any transformers causal LM
whose blocks sit in one ``ModuleList`` and whose MLP ends in a known projection works.
Reading a site is a forward hook (output) or a forward pre-hook (the MLP projection's
input); :mod:`valign.interp.steering` writes to ``resid`` sites the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor, nn

from valign.errors import UserError

SiteKind = Literal["resid", "attn", "mlp"]
SITE_KINDS: tuple[SiteKind, ...] = ("resid", "attn", "mlp")

# Child names, in the order tried, of the attention sub-module of a block and of the
# MLP's last projection (whose input is the neuron activations).
ATTN_NAMES = ("self_attn", "attn", "attention", "self_attention")
MLP_NAMES = ("mlp", "feed_forward", "ffn")
DOWN_NAMES = ("down_proj", "c_proj", "fc2", "dense_4h_to_h", "w2", "fc_out")

_SITE = re.compile(r"^(resid|attn|mlp)\.(-?\d+)$")


@dataclass(frozen=True)
class Site:
    """One hook point: a kind of activation at one decoder block."""

    kind: SiteKind
    layer: int

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.layer}"

    def __str__(self) -> str:
        return self.name


def parse_site(name: str, n_layers: int | None = None) -> Site:
    """``"mlp.2"`` -> Site("mlp", 2); a negative layer counts from the end when
    ``n_layers`` is given. Unknown names are a :class:`UserError`."""
    m = _SITE.match(name.strip())
    if not m:
        raise UserError(f"unknown site {name!r}: use resid.N, attn.N or mlp.N (N a layer index)")
    layer = int(m.group(2))
    if n_layers is not None:
        if layer < 0:
            layer += n_layers
        if not 0 <= layer < n_layers:
            raise UserError(f"site {name!r}: the model has layers 0..{n_layers - 1}")
    kind: SiteKind = m.group(1)  # type: ignore[assignment]
    return Site(kind, layer)


def parse_sites(spec: str, model: nn.Module) -> list[Site]:
    """A comma-separated list of sites; ``resid.*`` (any kind) expands to every layer."""
    n = len(decoder_layers(model))
    out: list[Site] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part.endswith(".*"):
            kind = part[:-2]
            if kind not in SITE_KINDS:
                raise UserError(f"unknown site kind {kind!r}: use one of {', '.join(SITE_KINDS)}")
            out += [parse_site(f"{kind}.{i}") for i in range(n)]
        else:
            out.append(parse_site(part, n))
    if not out:
        raise UserError("no sites given")
    return list(dict.fromkeys(out))


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's stack of decoder blocks (``model.layers`` in Llama, ``transformer.h``
    in GPT-2): the ``ModuleList`` whose length is the configured number of layers."""
    config = getattr(model, "config", None)
    want = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    for ml in lists:
        if want is None or len(ml) == want:
            return ml
    raise UserError(f"cannot find the decoder blocks of {type(model).__name__}")


def _child(parent: nn.Module, names: tuple[str, ...], what: str) -> nn.Module:
    for name in names:
        child = getattr(parent, name, None)
        if isinstance(child, nn.Module):
            return child
    raise UserError(f"cannot find the {what} of {type(parent).__name__} (tried {', '.join(names)})")


def site_module(model: nn.Module, site: Site) -> nn.Module:
    """The module whose output (resid, attn) or input (mlp) is the site's activation."""
    block = decoder_layers(model)[site.layer]
    if site.kind == "resid":
        return block
    if site.kind == "attn":
        return _child(block, ATTN_NAMES, "attention")
    return _child(_child(block, MLP_NAMES, "MLP"), DOWN_NAMES, "MLP down-projection")


def first_tensor(value: Any) -> Tensor:
    """A block or attention module returns a tensor or a tuple starting with one."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, tuple | list) and value and isinstance(value[0], Tensor):
        return value[0]
    raise TypeError(f"expected a tensor or a tuple starting with one, got {type(value).__name__}")


def replace_first(value: Any, tensor: Tensor) -> Any:
    """``value`` with its first tensor replaced (the same container type)."""
    if isinstance(value, Tensor):
        return tensor
    return type(value)([tensor, *value[1:]])


def site_width(model: nn.Module, site: Site) -> int:
    """Features per token at the site: d_model, or the MLP's hidden width."""
    if site.kind != "mlp":
        config: Any = model.config
        return int(getattr(config, "hidden_size", None) or config.n_embd)
    proj = site_module(model, site)
    weight: Any = proj.weight
    # nn.Linear stores (out, in); GPT-2's Conv1D stores (in, out).
    return int(weight.shape[0] if type(proj).__name__ == "Conv1D" else weight.shape[1])
