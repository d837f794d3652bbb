"""Where a real chat model tells harmful requests from harmless ones, and its refusal direction.

In chat models refusal is mediated by one direction of the residual stream (Arditi et al.
2024): the difference between the mean activation on harmful and on harmless instructions,
read at the last token of the prompt (where the reply is decided). Adding it makes a model
refuse; projecting it out of every layer makes a refusing model comply.

:func:`layer_scan` fits, at every decoder layer, a linear probe (harmful vs harmless) and the
difference-of-means direction on the *train* requests, and scores both on the *test*
requests: where the model represents harm, and how sharply. :func:`pick_layer` chooses the
layer to steer at. :func:`ablation_steers` builds the intervention that removes a direction
from every layer. Every request here is a public benchmark's; the test ones are never used
to fit anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from valign.interp.capture import pooled_activations
from valign.interp.directions import Direction, mean_difference
from valign.interp.probes import LinearProbe, balanced_accuracy, fit_probe
from valign.interp.sites import decoder_layers, parse_site
from valign.interp.steering import Steer
from valign.models import HFChatModel
from valign.models.chat import render_prompt
from valign.records.tasks import Item

#: Item kinds that count as harmful requests; every other kind is a harmless one.
HARMFUL_KINDS = ("harmful", "jailbreak")


@dataclass(frozen=True)
class LayerResult:
    """One layer's probe and difference-of-means direction, scored on held-out requests."""

    layer: int
    probe_accuracy: float  # balanced accuracy of the probe on the test requests
    direction_accuracy: float  # balanced accuracy of thresholding the projection on the direction
    direction: Direction
    probe: LinearProbe

    def to_dict(self) -> dict[str, float | int]:
        return {
            "layer": self.layer,
            "probe_accuracy": self.probe_accuracy,
            "direction_accuracy": self.direction_accuracy,
            "scale": self.direction.scale,
        }


def labelled_prompts(chat: HFChatModel, items: Sequence[Item]) -> tuple[list[str], np.ndarray]:
    """Each item's prompt as the model sees it (chat template, assistant header added) and its
    label (1: harmful request)."""
    texts = [render_prompt(chat.tokenizer, it.prompt()) for it in items]
    return texts, np.array([int(it.kind in HARMFUL_KINDS) for it in items])


def _threshold_accuracy(direction: Direction, x: np.ndarray, y: np.ndarray, mid: float) -> float:
    return balanced_accuracy(y, (x @ direction.unit > mid).astype(np.int64))


def layer_scan(
    chat: HFChatModel,
    train: Sequence[Item],
    test: Sequence[Item],
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> list[LayerResult]:
    """Probe and refusal direction at each layer (default: all), fitted on ``train``, scored
    on ``test``. Both sets need harmful and harmless requests."""
    x_train, y_train = labelled_prompts(chat, train)
    x_test, y_test = labelled_prompts(chat, test)
    for name, y in (("train", y_train), ("test", y_test)):
        if y.min() == y.max():
            raise ValueError(f"the {name} requests need both harmful and harmless ones")
    n_layers = len(decoder_layers(chat.model))
    sites = [parse_site(f"resid.{k}") for k in (layers or range(n_layers))]
    a_train = pooled_activations(chat.model, chat.tokenizer, x_train, sites, batch_size=batch_size)
    a_test = pooled_activations(chat.model, chat.tokenizer, x_test, sites, batch_size=batch_size)
    out = []
    for site in sites:
        tr, te = a_train[site.name], a_test[site.name]
        probe = fit_probe(tr, y_train)
        direction = mean_difference(site.name, tr[y_train == 1], tr[y_train == 0], "refusal")
        proj = tr @ direction.unit
        mid = (proj[y_train == 1].mean() + proj[y_train == 0].mean()) / 2
        out.append(
            LayerResult(
                layer=site.layer,
                probe_accuracy=balanced_accuracy(y_test, probe.predict(te)),
                direction_accuracy=_threshold_accuracy(direction, te, y_test, mid),
                direction=direction,
                probe=probe,
            )
        )
    return out


def pick_layer(results: Sequence[LayerResult], depth: float = 0.75) -> LayerResult:
    """The layer to steer at: within the first ``depth`` of the network (later layers write
    the reply's words more than its decision), the one whose direction best separates the
    held-out requests; the earliest of any tie."""
    if not results:
        raise ValueError("no layers scanned")
    last = max(r.layer for r in results)
    early = [r for r in results if r.layer <= depth * last] or list(results)
    best = max(r.direction_accuracy for r in early)
    return min((r for r in early if r.direction_accuracy == best), key=lambda r: r.layer)


def ablation_steers(direction: Direction, n_layers: int) -> list[Steer]:
    """Project ``direction`` out of the residual stream after every decoder layer, at every
    position (directional ablation, Arditi et al. 2024)."""
    return [
        Steer(
            Direction(f"resid.{k}", direction.unit, direction.scale, direction.method, "refusal"),
            1.0,
            "project",
            "all",
        )
        for k in range(n_layers)
    ]
