"""The fast classifier: MiniLM embeddings and a small multi-label head.

A prompt is embedded on its own; a (prompt, response) pair is the two embeddings side by
side, so the head can learn that the same compliant answer is unsafe after a harmful request
and safe after a benign one::

    features = [e(prompt), e(response) or 0, has_response]      # (batch, 2 * dim + 1)
    logits   = MLP(features)                                    # (batch, 1 + n_categories)

Output 0 is "unsafe"; output 1 + k is category k of the taxonomy. Each output has its own
threshold, calibrated on held-out data so that the false-positive rate on benign prompts
stays under a target (:func:`calibrate_threshold`). A saved classifier is a folder:
``guard.json`` (categories, thresholds, encoder settings, metrics, data provenance) and
``head.safetensors``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from valign.errors import UserError
from valign.guard.encoder import Encoder, runtime_backend, runtime_precision, shared_encoder
from valign.guard.head import FORMAT_VERSION, Head, HeadConfig, read_guard_config
from valign.guard.refusal import RefusalDetector, opening
from valign.guard.types import GUARD_FILE, GuardInput, GuardVerdict
from valign.models.threads import one_thread

HEAD_FILE = "head.safetensors"
#: ``guard.json``'s ``response_score`` when responses combine the head with the attempt
#: detector (see :meth:`FastClassifier.probabilities`); absent: the head alone.
RESPONSE_WITH_ATTEMPT = "head_or_request_if_attempted"


class Ensemble(nn.Module):
    """Several heads; the output is the logit of their mean probability."""

    def __init__(self, in_dim: int, n_out: int, hidden: int, dropout: float, members: int) -> None:
        super().__init__()
        self.in_dim, self.n_out, self.hidden = in_dim, n_out, hidden
        self.members = nn.ModuleList(Head(in_dim, n_out, hidden, dropout) for _ in range(members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.sigmoid(m(x)) for m in self.members]).mean(0)  # (batch, n_out)
        return torch.logit(probs, eps=1e-6)


def pair_features(
    prompts: torch.Tensor, responses: torch.Tensor, has: torch.Tensor
) -> torch.Tensor:
    """(n, dim), (n, dim), (n,) -> (n, 2 * dim + 1); responses are zero where ``has`` is 0."""
    return torch.cat([prompts, responses * has[:, None], has[:, None]], dim=1)


def encode_inputs(encoder: Encoder, inputs: Sequence[GuardInput]) -> torch.Tensor:
    """Features for each input; every distinct text is encoded once, missing responses never."""
    return pair_features_of(encoder, [(i.prompt, i.response) for i in inputs])


def embed_texts(encoder: Encoder, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Each distinct text encoded once: text -> (dim,) embedding."""
    unique = list(dict.fromkeys(texts))
    emb = encoder.encode(unique)  # (n_unique, dim)
    return {t: emb[k] for k, t in enumerate(unique)}


def pair_features_of(
    encoder: Encoder, pairs: Sequence[tuple[str, str | None]], progress: bool = False
) -> torch.Tensor:
    texts = list(dict.fromkeys([p for p, _ in pairs] + [r for _, r in pairs if r is not None]))
    index = {t: k for k, t in enumerate(texts)}
    emb = encoder.encode(texts, progress=progress)  # (n_texts, dim)
    p = emb[[index[p] for p, _ in pairs]]
    r = torch.zeros(len(pairs), encoder.dim)  # (n, dim); zero where there is no response
    rows = [k for k, (_, resp) in enumerate(pairs) if resp is not None]
    if rows:
        r[rows] = emb[[index[pairs[k][1]] for k in rows]]  # type: ignore[index]
    has = torch.tensor([resp is not None for _, resp in pairs], dtype=torch.float32)
    return pair_features(p, r, has)


def fit_head(
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor,
    config: HeadConfig,
    progress: Any = None,
) -> Ensemble:
    """Train ``config.members`` heads with masked, weighted binary cross-entropy.

    Shapes: x (n, in_dim); y and mask (n, n_out), mask 0 where a label is unknown (the
    category of a jailbreak prompt); weights (n,). ``progress(n)`` is called per epoch.
    """
    ens = Ensemble(x.shape[1], y.shape[1], config.hidden, config.dropout, config.members)
    with one_thread():
        for k in range(config.members):
            member = _fit_one(x, y, mask, weights, replace(config, seed=config.seed + k), progress)
            ens.members[k].load_state_dict(member.state_dict())
    ens.eval()
    return ens


def _fit_one(
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor,
    config: HeadConfig,
    progress: Any = None,
) -> Head:
    torch.manual_seed(config.seed)
    head = Head(x.shape[1], y.shape[1], config.hidden, config.dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(x) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(steps, 1))
    gen = torch.Generator().manual_seed(config.seed)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    head.train()
    for _ in range(config.epochs):
        for idx in torch.randperm(len(x), generator=gen).split(config.batch_size):
            loss = loss_fn(head(x[idx]), y[idx]) * mask[idx] * weights[idx, None]  # (b, n_out)
            loss = loss.sum() / (mask[idx] * weights[idx, None]).sum().clamp(min=1e-9)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress(1)
    head.eval()
    return head


def calibrate_threshold(
    scores: torch.Tensor, labels: torch.Tensor, benign: torch.Tensor, target_fpr: float
) -> float:
    """The threshold with the best F1 among those whose benign false-positive rate <= target.

    ``scores`` (n,) are probabilities, ``labels`` (n,) 0/1 truth, ``benign`` (n,) marks the
    examples the false-positive rate is measured on. Without positives, the threshold is the
    lowest that meets the target.
    """
    neg = scores[benign.bool()]
    candidates = sorted({0.5, *[float(s) for s in scores]})
    best_t, best_f1 = 1.0, -1.0
    pos = labels.bool()
    for t in candidates:
        t = min(max(t, 1e-4), 1.0)
        if len(neg) and float((neg >= t).float().mean()) > target_fpr:
            continue
        pred = scores >= t
        tp = float((pred & pos).sum())
        fp = float((pred & ~pos).sum())
        fn = float((~pred & pos).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 or (f1 == best_f1 and t < best_t):
            best_t, best_f1 = t, f1
    return best_t


class FastClassifier:
    """The fast classifier backend: encoder + head + per-output thresholds."""

    name = "classifier"

    def __init__(
        self,
        head: Ensemble,
        categories: list[str],
        thresholds: dict[str, float],
        encoder: Encoder,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.head = head
        self.categories = list(categories)
        self.thresholds = dict(thresholds)
        self.encoder = encoder
        self.meta = dict(meta or {})
        #: The folder's attempt detector, when ``guard.json`` says responses use it.
        self.attempt: Any = None

    @property
    def outputs(self) -> list[str]:
        return ["unsafe", *self.categories]

    def probabilities(self, inputs: Sequence[GuardInput]) -> torch.Tensor:
        """P(unsafe) and P(category) for each input, shape (n, 1 + n_categories).

        With an attempt detector (:attr:`attempt`), a response is also as unsafe as its
        request when it attempted it: max(head, P(request) x P(reply attempted it)), per
        output. The head alone reads a reply's text; the product carries the request's harm
        over to a real model's reply that complies in words the head never saw.
        """
        if not inputs:
            return torch.zeros(0, len(self.outputs))
        with torch.inference_mode():
            if self.attempt is None or all(i.response is None for i in inputs):
                return torch.sigmoid(self.head(encode_inputs(self.encoder, inputs)))
            return self._with_attempt(inputs)

    def _with_attempt(self, inputs: Sequence[GuardInput]) -> torch.Tensor:
        assert self.attempt is not None
        rows = [k for k, i in enumerate(inputs) if i.response is not None]
        pairs = [(inputs[k].prompt, str(inputs[k].response)) for k in rows]
        openings = [opening(r) for _, r in pairs]
        texts = [i.prompt for i in inputs] + [r for _, r in pairs] + openings
        emb = embed_texts(self.encoder, texts)  # text -> (dim,)
        zero = torch.zeros(self.encoder.dim)
        p = torch.stack([emb[i.prompt] for i in inputs])  # (n, dim)
        r = torch.stack([emb[i.response] if i.response is not None else zero for i in inputs])
        has = torch.tensor([i.response is not None for i in inputs], dtype=torch.float32)
        probs = torch.sigmoid(self.head(pair_features(p, r, has)))  # (n, 1 + n_categories)
        alone = torch.sigmoid(
            self.head(pair_features(p[rows], zero.expand(len(rows), -1), has[rows] * 0))
        )
        attempted = self.attempt.attempted_from(
            r[rows], torch.stack([emb[o] for o in openings]), p[rows]
        )  # (m,) P(attempted, fully or in part)
        probs[rows] = torch.maximum(probs[rows], alone * attempted[:, None])
        return probs

    def verdicts(self, probs: torch.Tensor) -> list[GuardVerdict]:
        """Verdicts from a (n, 1 + n_categories) matrix of probabilities."""
        out: list[GuardVerdict] = []
        t_unsafe = self.thresholds["unsafe"]
        for row in probs.tolist():
            cats = {c: round(p, 6) for c, p in zip(self.categories, row[1:], strict=True)}
            flagged = row[0] >= t_unsafe
            hits = tuple(c for c in self.categories if flagged and cats[c] >= self.thresholds[c])
            out.append(GuardVerdict(flagged, round(row[0], 6), cats, hits, self.name))
        return out

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        return self.verdicts(self.probabilities(inputs))

    # -- persistence -----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "format": FORMAT_VERSION,
            "categories": self.categories,
            "thresholds": self.thresholds,
            "encoder": self.encoder.describe(),
            "head": {
                "in_dim": self.head.in_dim,
                "n_out": self.head.n_out,
                "hidden": self.head.hidden,
                "members": len(self.head.members),
            },
            **self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``guard.json`` and ``head.safetensors`` into ``path`` (merging ``guard.json``)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.head.state_dict().items()}, folder / HEAD_FILE
        )
        config_path = folder / GUARD_FILE
        existing = json.loads(config_path.read_text("utf-8")) if config_path.is_file() else {}
        existing.update(self.config())
        config_path.write_text(json.dumps(existing, indent=2, sort_keys=True), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path, encoder_backend: str | None = None) -> FastClassifier:
        """The classifier saved in ``path``; its encoder runs on ``encoder_backend``
        ("float", "int8" or "auto"; default ``$VALIGN_GUARD_ENCODER``, else "auto")."""
        folder = Path(path)
        config = read_guard_config(folder)
        if config.get("backend") != cls.name:
            raise UserError(f"{folder} holds a {config.get('backend')!r} guard, not a classifier")
        head = load_head(folder, config)
        enc = config["encoder"]
        encoder = shared_encoder(
            int(enc["max_length"]),
            str(enc.get("pooling", "mean")),
            runtime_precision(),
            encoder_backend or runtime_backend(),
        )
        known = {"backend", "format", "categories", "thresholds", "encoder", "head"}
        meta = {k: v for k, v in config.items() if k not in known}
        classifier = cls(head, list(config["categories"]), config["thresholds"], encoder, meta)
        if config.get("response_score") == RESPONSE_WITH_ATTEMPT and "refusal" in config:
            classifier.attempt = RefusalDetector.load(folder, encoder_backend)
        return classifier


def load_head(folder: Path, config: dict[str, Any]) -> Ensemble:
    """The head saved in ``folder``, shaped as its ``guard.json`` (``config``) says."""
    h = config["head"]
    head = Ensemble(
        int(h["in_dim"]), int(h["n_out"]), int(h["hidden"]), 0.0, int(h.get("members", 1))
    )
    try:
        head.load_state_dict(load_file(folder / HEAD_FILE))
    except Exception as exc:  # safetensors raises its own error types
        raise UserError(f"cannot load the classifier head from {folder}: {exc}") from exc
    head.eval()
    return head
