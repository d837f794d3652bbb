"""A lean inference forward pass for BERT-style encoders (MiniLM), on the model's own weights.

``transformers``' ``BertModel`` spends a sixth of a short prompt's time outside arithmetic:
six nested module calls per layer, attention-interface look-ups, dropout calls that do
nothing at inference, and a signature inspection per layer for feed-forward chunking. This
module runs the same computation as a plain loop over the layers, with the query, key and
value projections fused into one product (one pass over the input instead of three)::

    x = LayerNorm(word[ids] + position[:seq] + token_type[0])          # (batch, seq, d)
    per layer:
        q, k, v = split(x @ Wqkv + bqkv)                                # (batch, heads, seq, dh)
        x = LayerNorm(x + attention(q, k, v, mask) @ Wo + bo)
        x = LayerNorm(x + gelu(x @ Wi + bi) @ Wout + bout)

Its hidden states equal ``BertModel``'s to float rounding. The linear layers are ordinary
``nn.Linear`` submodules, so :mod:`valign.guard.int8` can replace them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def supports(model: Any) -> bool:
    """Whether ``model`` is a ``BertModel`` this forward reproduces exactly."""
    config = getattr(model, "config", None)
    return (
        config is not None
        and getattr(config, "model_type", None) == "bert"
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        and getattr(config, "hidden_act", None) == "gelu"
        and not getattr(config, "is_decoder", False)
        and hasattr(model, "embeddings")
        and hasattr(model, "encoder")
    )


def _fused(*layers: nn.Linear) -> nn.Linear:
    """One linear layer computing ``layers`` side by side (outputs concatenated)."""
    weight = torch.cat([layer.weight.detach() for layer in layers])  # (sum out, in)
    bias = torch.cat([layer.bias.detach() for layer in layers])  # (sum out,)
    fused = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        fused.weight.copy_(weight)
        fused.bias.copy_(bias)
    return fused


def _norm(norm: nn.LayerNorm) -> tuple[tuple[torch.Tensor, torch.Tensor], float]:
    """A layer norm's (weight, bias) and epsilon, for ``F.layer_norm``."""
    assert norm.weight is not None and norm.bias is not None
    return (norm.weight.detach(), norm.bias.detach()), float(norm.eps)


class Layer(nn.Module):
    """One transformer layer's weights: fused qkv, attention output, feed-forward."""

    qkv: nn.Module
    attn_out: nn.Module
    inter: nn.Module
    out: nn.Module

    def __init__(self, hf_layer: Any) -> None:
        super().__init__()
        att = hf_layer.attention
        self.qkv = _fused(att.self.query, att.self.key, att.self.value)
        self.attn_out = att.output.dense
        self.attn_norm, self.attn_eps = _norm(att.output.LayerNorm)
        self.inter = hf_layer.intermediate.dense
        self.out = hf_layer.output.dense
        self.out_norm, self.out_eps = _norm(hf_layer.output.LayerNorm)


class FastBert(nn.Module):
    """``BertModel``'s last hidden states, computed without its framework overhead.

    Args:
        model: A ``transformers`` ``BertModel`` (see :func:`supports`). Its tensors are
            shared, not copied (only the fused qkv weights are new); replacing a linear
            layer here (int8) leaves ``model`` as it was.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        config = model.config
        emb = model.embeddings
        self.d = int(config.hidden_size)
        self.heads = int(config.num_attention_heads)
        self.word = emb.word_embeddings.weight.detach()  # (vocab, d)
        self.position = emb.position_embeddings.weight.detach()  # (max_pos, d)
        self.token_type = emb.token_type_embeddings.weight.detach()[0]  # (d,)
        self.emb_norm, self.emb_eps = _norm(emb.LayerNorm)
        self.stack = [Layer(layer) for layer in model.encoder.layer]
        self.layers = nn.ModuleList(self.stack)  # registered, so int8 finds their linears

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq) token ids and 0/1 attention mask -> (batch, seq, d) hidden states."""
        batch, seq = ids.shape
        d, heads = self.d, self.heads
        x = F.embedding(ids, self.word) + (self.position[:seq] + self.token_type)  # (b, s, d)
        x = F.layer_norm(x, (d,), *self.emb_norm, self.emb_eps)
        keep = mask.bool()[:, None, None, :]  # (b, 1, 1, s): padding is never attended to
        for layer in self.stack:
            qkv = layer.qkv(x).view(batch, seq, 3, heads, d // heads)  # (b, s, 3, h, dh)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (b, h, s, dh)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # (b, h, s, dh)
            ctx = ctx.transpose(1, 2).reshape(batch, seq, d)  # (b, s, d)
            x = F.layer_norm(layer.attn_out(ctx) + x, (d,), *layer.attn_norm, layer.attn_eps)
            mid = F.gelu(layer.inter(x))  # (b, s, intermediate)
            x = F.layer_norm(layer.out(mid) + x, (d,), *layer.out_norm, layer.out_eps)
        return x


class HFForward(nn.Module):
    """Any other ``transformers`` encoder through its own forward, with the same call."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return out  # (batch, seq, d)


def lean_forward(model: Any) -> nn.Module:
    """:class:`FastBert` over ``model`` where :func:`supports` says so, else :class:`HFForward`."""
    return FastBert(model) if supports(model) else HFForward(model)
