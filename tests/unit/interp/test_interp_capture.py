"""Streaming capture to a sharded store, and pooled activations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from interp_testkit import TEXTS, tokenizer

from valign.errors import UserError
from valign.interp.capture import CaptureConfig, capture, pooled_activations, recording
from valign.interp.sites import parse_sites
from valign.interp.store import ActivationStore
from valign.interp.texts import TextRecord, read_texts


def _alone(model: Any, tok: Any, text: str, site: str) -> np.ndarray:
    """The site's activations for one text run on its own: (n_tokens, width)."""
    ids = torch.tensor([tok(text)["input_ids"]])
    with recording(model, parse_sites(site, model)) as acts, torch.no_grad():
        model(input_ids=ids)
    return acts[site][0].numpy()


def test_store_rows_are_each_text_run_alone(tiny_model: Any, tok: Any, tmp_path: Path) -> None:
    records = [TextRecord(f"r{i}", t, "k") for i, t in enumerate(TEXTS)]
    sites = parse_sites("resid.1,mlp.2", tiny_model)
    config = CaptureConfig(batch_size=2, shard_tokens=16, dtype="float32")
    summary = capture(tiny_model, tok, records, sites, tmp_path / "store", config)
    store = ActivationStore(tmp_path / "store")
    n_tokens = sum(len(tok(t)["input_ids"]) for t in TEXTS)
    assert summary.records == 5 and summary.tokens == n_tokens
    assert summary.shards == len(list((tmp_path / "store").glob("shard-*.safetensors"))) > 1
    mlp = store.load("mlp.2")
    assert mlp.shape == (n_tokens, 24 if "Llama" in type(tiny_model).__name__ else 64)
    for rec in store.records:
        # Padding never leaks into a token's activations: batched equals alone.
        np.testing.assert_allclose(
            mlp[rec.rows], _alone(tiny_model, tok, rec.text, "mlp.2"), atol=1e-5
        )
        assert "".join(rec.tokens) == rec.text
        assert len(rec.offsets) == rec.n_tokens and rec.kind == "k"
    with pytest.raises(UserError, match="not in the store"):
        store.load("attn.0")


def test_pooled_activations_pick_the_last_real_token(tiny_model: Any, tok: Any) -> None:
    sites = parse_sites("resid.0", tiny_model)
    pooled = pooled_activations(tiny_model, tok, TEXTS[:3], sites, batch_size=3)["resid.0"]
    means = pooled_activations(tiny_model, tok, TEXTS[:3], sites, pool="mean")["resid.0"]
    for i, text in enumerate(TEXTS[:3]):
        alone = _alone(tiny_model, tok, text, "resid.0")
        np.testing.assert_allclose(pooled[i], alone[-1], atol=1e-5)
        np.testing.assert_allclose(means[i], alone.mean(0), atol=1e-5)


def test_read_texts_shapes_and_errors(tmp_path: Path) -> None:
    tok = tokenizer()
    tok.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    tok.chat_template += "{% if add_generation_prompt %}<assistant>{% endif %}"
    path = tmp_path / "in.jsonl"
    rows = [
        {"text": "plain"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {"id": "e1", "kind": "harmful", "messages": [{"role": "user", "content": "q"}]},
        {"prompt": "p"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = list(read_texts(path, tok))
    assert [r.text for r in got] == [
        "plain",
        "<user>hi<assistant>yo",
        "<user>q<assistant>",
        "<user>p<assistant>",
    ]
    assert got[2].id == "e1" and got[2].kind == "harmful" and got[0].id == "in-1"
    assert len(list(read_texts(path, tok, limit=2))) == 2
    path.write_text('{"other": 1}\n')
    with pytest.raises(UserError, match=r"in.jsonl:1: no 'text'"):
        list(read_texts(path, tok))
    with pytest.raises(UserError, match="not found"):
        list(read_texts(tmp_path / "missing.jsonl", tok))
