"""The lean BERT forward: the same hidden states as transformers' BertModel."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from valign.guard.encoder import shared_encoder
from valign.guard.fastbert import FastBert, HFForward, lean_forward, supports


@torch.inference_mode()
def test_hidden_states_match_bert_model_on_a_padded_batch() -> None:
    enc = shared_encoder(precision="float32")
    assert isinstance(enc.net, FastBert)
    rows = enc._token_ids(["a longer sentence about baking bread at home", "hi", ""])
    ids, mask = enc._arrays(rows)  # (3, seq) each; the short rows are padded
    ref = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state
    out = enc.net(ids, mask)
    assert out.shape == ref.shape
    real = mask.bool()  # padding positions are never pooled
    assert torch.allclose(out[real], ref[real], atol=1e-4)


def test_other_models_use_their_own_forward() -> None:
    assert not supports(SimpleNamespace(config=SimpleNamespace(model_type="roberta")))
    assert not supports(object())

    class Fake(torch.nn.Module):
        config = SimpleNamespace(model_type="distilbert")

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> object:
            return SimpleNamespace(
                last_hidden_state=input_ids.float()[..., None] * attention_mask[..., None]
            )

    net = lean_forward(Fake())
    assert isinstance(net, HFForward)
    out = net(torch.tensor([[3, 4]]), torch.tensor([[1, 0]]))
    assert out.tolist() == [[[3.0], [0.0]]]
