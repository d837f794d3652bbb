"""The guard's fast classifier as sentence-transformers modules, for use without valign.

``valign guard export`` copies this file, unchanged, into every exported folder as
``guard_modules.py``; sentence-transformers imports it from there when the folder is loaded
with ``trust_remote_code=True``. It imports only torch and safetensors, never valign, and
computes exactly what :class:`valign.guard.classifier.FastClassifier` computes::

    text ──Transformer (all-MiniLM-L6-v2)──► token embeddings           # (batch, seq, 384)
         ──GuardPooling──► [mean / |mean|, max / |max|]                 # (batch, dim)
         ──GuardHead──► P(unsafe), P(category 1), ..., P(category K)    # (batch, 1 + K)

Two modules rather than the library's ``Pooling`` and ``Normalize`` because the guard
normalises the mean and the max each on its own, which no built-in module does.

A response is judged in the context of its prompt: the head's features are the prompt's
embedding, the response's (zero when there is none) and a flag saying there is one
(:meth:`GuardHead.probabilities`, :meth:`GuardHead.pair_probabilities`).

Both modules use the loading protocol every sentence-transformers release understands
(``save(folder)`` and ``load(folder)``), so they do not depend on the library's own base
classes, which moved between releases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
POOLINGS = ("mean", "mean+max")
#: The head's mean probability is clamped to [EPS, 1 - EPS], as valign's head does.
EPS = 1e-6


def _write_json(folder: str, data: dict[str, Any]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)


def _read_json(folder: str) -> dict[str, Any]:
    with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


class GuardPooling(nn.Module):
    """Token embeddings to the guard's text embedding.

    The attention-masked mean of the last hidden states and, with ``pooling="mean+max"``, the
    masked max beside it; each part L2-normalised on its own. Output dimension: ``hidden_size``
    per part.
    """

    def __init__(self, hidden_size: int, pooling: str = "mean+max") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r} (use one of {', '.join(POOLINGS)})")
        self.hidden_size = int(hidden_size)
        self.pooling = pooling

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hidden = features["token_embeddings"].float()  # (batch, seq, hidden)
        mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (batch, hidden)
        parts = [F.normalize(mean, dim=-1)]
        if self.pooling == "mean+max":
            peak = (hidden + (mask - 1) * 1e4).max(1).values  # (batch, hidden); padding never wins
            parts.append(F.normalize(peak, dim=-1))
        features["sentence_embedding"] = torch.cat(parts, dim=-1)  # (batch, dim)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.hidden_size * (2 if self.pooling == "mean+max" else 1)

    def get_embedding_dimension(self) -> int:
        return self.get_sentence_embedding_dimension()

    def get_config_dict(self) -> dict[str, Any]:
        return {"hidden_size": self.hidden_size, "pooling": self.pooling}

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        _write_json(output_path, self.get_config_dict())

    @classmethod
    def load(cls, input_path: str) -> GuardPooling:
        return cls(**_read_json(input_path))


class GuardHead(nn.Module):
    """The guard's calibrated multi-label head: text embeddings to probabilities.

    An ensemble of ``members`` MLPs (one hidden GELU layer of width ``hidden``, or linear
    when ``hidden`` is 0) over ``[prompt, response or 0, has_response]`` (``2 * dim + 1``
    features); the output is the mean of the members' sigmoid probabilities. Output 0 is
    "unsafe", output ``1 + k`` category ``k``: :attr:`labels` names them, :attr:`id2label`
    maps index to name, :attr:`thresholds` holds each output's calibrated threshold.

    In a ``SentenceTransformer`` it reads a prompt's embedding and replaces it with the
    prompt's probabilities (``encode`` returns them); the embedding stays available as the
    ``guard_embedding`` output.
    """

    def __init__(
        self,
        dim: int,
        labels: Sequence[str],
        thresholds: dict[str, float],
        hidden: int,
        members: int,
        **metadata: Any,
    ) -> None:
        super().__init__()
        self.dim, self.hidden, self.members = int(dim), int(hidden), int(members)
        self.labels = list(labels)
        self.thresholds = {k: float(v) for k, v in thresholds.items()}
        missing = [label for label in self.labels if label not in self.thresholds]
        if missing:
            raise ValueError(f"no threshold for {', '.join(missing)}")
        #: Anything else the exporter recorded (where the guard came from).
        self.metadata = dict(metadata)
        in_dim, n_out = 2 * self.dim + 1, len(self.labels)
        width = self.hidden or in_dim
        if self.hidden:
            self.w_hidden = nn.Parameter(torch.zeros(self.members, self.hidden, in_dim))
            self.b_hidden = nn.Parameter(torch.zeros(self.members, self.hidden))
        self.w_out = nn.Parameter(torch.zeros(self.members, n_out, width))
        self.b_out = nn.Parameter(torch.zeros(self.members, n_out))

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: k for k, label in enumerate(self.labels)}

    def probabilities(
        self, prompts: torch.Tensor, responses: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(n, dim) prompt embeddings and, optionally, (n, dim) response embeddings ->
        (n, 1 + K) probabilities: of each prompt, or of each response after its prompt."""
        n = prompts.shape[0]
        flag = 0.0 if responses is None else 1.0
        has = torch.full((n, 1), flag, dtype=prompts.dtype, device=prompts.device)
        if responses is None:
            responses = torch.zeros_like(prompts)
        x = torch.cat([prompts, responses * has, has], dim=1)  # (n, 2 * dim + 1)
        probs = []
        for m in range(self.members):
            h = x
            if self.hidden:
                h = F.gelu(F.linear(x, self.w_hidden[m], self.b_hidden[m]))  # (n, hidden)
            probs.append(torch.sigmoid(F.linear(h, self.w_out[m], self.b_out[m])))  # (n, 1 + K)
        mean = torch.stack(probs).mean(0)
        return torch.sigmoid(torch.logit(mean, eps=EPS))  # the mean, clamped as valign does

    def pair_probabilities(
        self, model: Any, prompts: Sequence[str], responses: Sequence[str], **encode_kwargs: Any
    ) -> torch.Tensor:
        """(n, 1 + K) probabilities of each response in the context of its prompt.

        ``model`` is the ``SentenceTransformer`` this head belongs to; every distinct text is
        encoded once.
        """
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        texts = list(dict.fromkeys([*prompts, *responses]))
        index = {t: k for k, t in enumerate(texts)}
        out = model.encode(texts, output_value="guard_embedding", **encode_kwargs)
        emb = torch.stack([torch.as_tensor(e) for e in out]).float()  # (n_texts, dim)
        emb = emb.to(self.w_out.device)
        with torch.inference_mode():
            return self.probabilities(
                emb[[index[p] for p in prompts]], emb[[index[r] for r in responses]]
            )

    def verdicts(self, probabilities: Any) -> list[dict[str, Any]]:
        """Decisions from (n, 1 + K) probabilities, as valign makes them.

        ``flagged`` when P(unsafe) reaches its threshold; ``flagged_categories`` are then
        the categories whose probability reaches theirs.
        """
        out = []
        for row in torch.as_tensor(probabilities).tolist():
            scores = dict(zip(self.labels, row, strict=True))
            flagged = scores["unsafe"] >= self.thresholds["unsafe"]
            hits = [c for c in self.labels[1:] if flagged and scores[c] >= self.thresholds[c]]
            categories = {c: scores[c] for c in self.labels[1:]}
            out.append(
                {
                    "flagged": flagged,
                    "score": scores["unsafe"],
                    "categories": categories,
                    "flagged_categories": hits,
                }
            )
        return out

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        emb = features["sentence_embedding"]  # (batch, dim)
        features["guard_embedding"] = emb
        features["sentence_embedding"] = self.probabilities(emb.float())  # (batch, 1 + K)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return len(self.labels)

    def get_embedding_dimension(self) -> int:
        return len(self.labels)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "labels": self.labels,
            "id2label": {str(k): v for k, v in self.id2label.items()},
            "thresholds": self.thresholds,
            "hidden": self.hidden,
            "members": self.members,
            **self.metadata,
        }

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        _write_json(output_path, self.get_config_dict())
        tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, os.path.join(output_path, WEIGHTS_FILE))

    @classmethod
    def load(cls, input_path: str) -> GuardHead:
        config = _read_json(input_path)
        config.pop("id2label", None)  # derived from labels
        head = cls(**config)
        head.load_state_dict(load_file(os.path.join(input_path, WEIGHTS_FILE)))
        head.eval()
        return head
