"""The per-layer scan of harmful vs harmless requests, the layer choice, and ablation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from valign.interp.directions import Direction
from valign.interp.probes import LinearProbe
from valign.interp.refusal_scan import LayerResult, ablation_steers, layer_scan, pick_layer
from valign.interp.sites import decoder_layers
from valign.interp.steering import steering
from valign.records.messages import Message
from valign.records.tasks import Item


def _chat(model: Any, tok: Any) -> Any:
    tok.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    return SimpleNamespace(model=model, tokenizer=tok)


def _items(n: int, start: int, blind: bool = False) -> list[Item]:
    """Harmful and benign requests that differ in their words; ``blind``: one template for
    both, the label by the parity of a number in it (nothing a model could read)."""
    out = []
    for i in range(start, start + 2 * n, 2):
        harm = f"What is 3 plus {i}?" if blind else f"Sure. First, <STEP-1>. Then, <STEP-2>. {i}"
        safe = f"What is 3 plus {i + 1}?" if blind else f"What is 3 plus {i}? It is 7."
        out.append(Item(id=f"h{i}", kind="harmful", messages=[Message(role="user", content=harm)]))
        out.append(Item(id=f"b{i}", kind="benign", messages=[Message(role="user", content=safe)]))
    return out


def test_the_scan_separates_held_out_requests_that_differ_and_not_those_that_do_not(
    tiny_model: Any, tok: Any
) -> None:
    chat = _chat(tiny_model, tok)
    results = layer_scan(chat, _items(10, 0), _items(10, 1), batch_size=8)
    n_layers = len(decoder_layers(tiny_model))
    assert [r.layer for r in results] == list(range(n_layers))
    assert max(r.direction_accuracy for r in results) >= 0.9
    assert max(r.probe_accuracy for r in results) >= 0.9
    pick = pick_layer(results)
    assert pick.direction.site == f"resid.{pick.layer}" and pick.direction.scale > 0
    # Labels nothing in the text carries: no layer beats chance by much on held-out requests.
    blind = layer_scan(chat, _items(10, 0, True), _items(10, 1, True), batch_size=8)
    assert max(r.direction_accuracy for r in blind) <= 0.75


def test_the_scan_needs_both_kinds_of_request(tiny_model: Any, tok: Any) -> None:
    only_harmful = [it for it in _items(3, 0) if it.kind == "harmful"]
    with pytest.raises(ValueError, match="test requests need both"):
        layer_scan(_chat(tiny_model, tok), _items(3, 0), only_harmful)


def _result(layer: int, acc: float) -> LayerResult:
    unit = np.ones(2) / np.sqrt(2)
    probe = LinearProbe(np.zeros(2), 0.0, np.zeros(2), np.ones(2))
    return LayerResult(layer, acc, acc, Direction(f"resid.{layer}", unit, 1.0, "m"), probe)


def test_the_layer_is_the_earliest_best_in_the_first_three_quarters() -> None:
    results = [_result(k, a) for k, a in enumerate([0.5, 0.9, 0.7, 0.9, 0.6, 0.95, 0.99, 1.0])]
    # Layers 0-5 are within 0.75 x 7 = 5.25; 5 has 0.95, the best there.
    assert pick_layer(results).layer == 5
    ties = [_result(k, a) for k, a in enumerate([0.5, 0.9, 0.9, 0.9, 1.0])]
    assert pick_layer(ties).layer == 1
    with pytest.raises(ValueError):
        pick_layer([])


def test_ablation_removes_the_direction_after_every_layer(tiny_model: Any) -> None:
    n_layers = len(decoder_layers(tiny_model))
    width = int(tiny_model.config.hidden_size if hasattr(tiny_model.config, "hidden_size") else 0)
    rng = np.random.default_rng(0)
    unit = rng.normal(size=width)
    unit /= np.linalg.norm(unit)
    direction = Direction("resid.0", unit, 3.0, "mean_difference", "refusal")
    steers = ablation_steers(direction, n_layers)
    assert [s.direction.site for s in steers] == [f"resid.{k}" for k in range(n_layers)]
    ids = torch.tensor([[5, 17, 33, 8, 2]])
    u = torch.tensor(unit, dtype=torch.float32)
    seen: dict[int, list[float]] = {}

    def record(k: int) -> Any:
        def hook(_mod: Any, _inp: Any, out: Any) -> None:
            h = out[0] if isinstance(out, tuple) else out
            seen.setdefault(k, []).append(float((h @ u).abs().max()))

        return hook

    blocks = decoder_layers(tiny_model)
    with torch.no_grad():
        handles = [b.register_forward_hook(record(k)) for k, b in enumerate(blocks)]
        tiny_model(ids)  # plain
        for h in handles:
            h.remove()
        with steering(tiny_model, steers):
            # registered after the steering hooks: sees each block's steered output
            handles = [b.register_forward_hook(record(k)) for k, b in enumerate(blocks)]
            tiny_model(ids)
        for h in handles:
            h.remove()
    for k in range(n_layers):
        plain, cut = seen[k]
        assert plain > 1e-3 and cut < 1e-5


def test_a_scan_reads_the_prompt_as_the_chat_template_renders_it() -> None:
    from valign.interp.refusal_scan import labelled_prompts

    class Tok:
        def apply_chat_template(
            self, msgs: list, tokenize: bool, add_generation_prompt: bool
        ) -> str:
            assert add_generation_prompt and not tokenize
            return "|".join(m["content"] for m in msgs) + "<assistant>"

    items = [
        Item(id="a", kind="harmful", messages=[Message(role="user", content="x")]),
        Item(id="b", kind="borderline", messages=[Message(role="user", content="y")]),
    ]
    texts, labels = labelled_prompts(SimpleNamespace(tokenizer=Tok()), items)  # type: ignore[arg-type]
    assert texts == ["x<assistant>", "y<assistant>"] and labels.tolist() == [1, 0]
