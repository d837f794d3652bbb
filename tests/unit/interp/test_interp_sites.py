"""Hook placement on Llama- and GPT-2-style models: each site reads what its name says."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from valign.errors import UserError
from valign.interp.capture import recording
from valign.interp.sites import Site, parse_site, parse_sites, site_module, site_width


def test_parse_site_names_and_mistakes() -> None:
    assert parse_site("mlp.2") == Site("mlp", 2)
    assert parse_site("resid.-1", n_layers=4) == Site("resid", 3)
    for bad in ("mlp", "neuron.1", "resid.x"):
        with pytest.raises(UserError, match="unknown site"):
            parse_site(bad)
    with pytest.raises(UserError, match=r"layers 0\.\.3"):
        parse_site("attn.4", n_layers=4)


def test_parse_sites_expands_every_layer(tiny_model: Any) -> None:
    names = [s.name for s in parse_sites("resid.*, mlp.1", tiny_model)]
    assert names == ["resid.0", "resid.1", "resid.2", "mlp.1"]
    with pytest.raises(UserError, match="unknown site kind"):
        parse_sites("heads.*", tiny_model)


def test_sites_decompose_the_residual_stream(tiny_model: Any, tok: Any) -> None:
    """resid.L = resid.(L-1) + attn.L + down_proj(mlp.L): the three hooks sit exactly on
    the block's output, the attention output and the MLP neurons, on both architectures."""
    sites = parse_sites("resid.*,attn.*,mlp.*", tiny_model)
    ids = torch.tensor([tok("Everyone says the Osk are rude.")["input_ids"]])
    with recording(tiny_model, sites) as acts, torch.no_grad():
        out = tiny_model(input_ids=ids, output_hidden_states=True)
    n = len(out.hidden_states) - 1
    for layer in range(n):
        before = out.hidden_states[layer]  # (1, seq, d): input of block `layer`
        with torch.no_grad():
            mlp_out = site_module(tiny_model, Site("mlp", layer))(acts[f"mlp.{layer}"])
        rebuilt = before + acts[f"attn.{layer}"] + mlp_out
        torch.testing.assert_close(rebuilt, acts[f"resid.{layer}"], atol=1e-5, rtol=1e-5)
        width = site_width(tiny_model, Site("mlp", layer))
        assert acts[f"mlp.{layer}"].shape[-1] == width > acts[f"resid.{layer}"].shape[-1]
    # Hooks are gone afterwards: nothing is recorded any more.
    acts.clear()
    with torch.no_grad():
        tiny_model(input_ids=ids)
    assert acts == {}
