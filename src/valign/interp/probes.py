"""Linear probes: does a layer's activation linearly encode a concept?

One logistic regression per site, fitted on standardised activations with L2 weight decay
and class-balanced weights (the concepts are rarely 50/50), by full-batch L-BFGS in torch
(no extra dependency; a probe over a few thousand points takes well under a second).
Accuracy is reported on a held-out set; balanced accuracy (the mean of the per-class
recalls) is the headline, so a probe cannot score well by predicting the majority class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class LinearProbe:
    """``p(concept | x) = sigmoid(w . (x - mean) / std + b)``."""

    weight: np.ndarray  # (d,)
    bias: float
    mean: np.ndarray  # (d,)
    std: np.ndarray  # (d,)

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(n,)`` for activations ``(n, d)``."""
        return ((x - self.mean) / self.std) @ self.weight + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.decision(x) > 0).astype(np.int64)

    def direction(self) -> np.ndarray:
        """The unit vector in raw activation space along which the logit grows fastest."""
        d = self.weight / self.std
        return d / (np.linalg.norm(d) or 1.0)


def fit_probe(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, max_iter: int = 100
) -> LinearProbe:
    """Fit on ``x`` ``(n, d)`` and binary labels ``y`` ``(n,)``."""
    x64 = np.asarray(x, dtype=np.float64)
    mean, std = x64.mean(0), x64.std(0) + 1e-6
    xs = torch.tensor((x64 - mean) / std, dtype=torch.float32)  # (n, d)
    yt = torch.tensor(y, dtype=torch.float32)  # (n,)
    pos = float(yt.mean())
    if pos in (0.0, 1.0):
        raise ValueError("a probe needs examples of both classes")
    # Balanced weights: each class carries half the loss.
    sample_w = torch.where(yt > 0, 0.5 / pos, 0.5 / (1 - pos))  # (n,)
    w = torch.zeros(xs.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xs @ w + b  # (n,)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, weight=sample_w)
            + l2 * (w * w).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return LinearProbe(w.detach().numpy().astype(np.float64), float(b.detach()), mean, std)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float((np.asarray(y_true) == np.asarray(y_pred)).mean()) if len(y_true) else 0.0


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [float((y_pred[y_true == c] == c).mean()) for c in np.unique(y_true)]
    return float(np.mean(recalls)) if recalls else 0.0


@dataclass(frozen=True)
class ProbeResult:
    """One site's probe and how well it does."""

    site: str
    probe: LinearProbe
    train_accuracy: float
    test_accuracy: float
    test_balanced_accuracy: float
    n_train: int
    n_test: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "train_accuracy": round(self.train_accuracy, 4),
            "test_accuracy": round(self.test_accuracy, 4),
            "test_balanced_accuracy": round(self.test_balanced_accuracy, 4),
            "n_train": self.n_train,
            "n_test": self.n_test,
        }


def probe_sites(
    train: Mapping[str, np.ndarray],
    y_train: np.ndarray,
    test: Mapping[str, np.ndarray],
    y_test: np.ndarray,
    *,
    l2: float = 1e-3,
) -> list[ProbeResult]:
    """Fit one probe per site (keys of ``train``) and score it on ``test``."""
    out = []
    for site, x in train.items():
        probe = fit_probe(x, y_train, l2=l2)
        pred = probe.predict(test[site])
        out.append(
            ProbeResult(
                site,
                probe,
                accuracy(y_train, probe.predict(x)),
                accuracy(y_test, pred),
                balanced_accuracy(y_test, pred),
                len(y_train),
                len(y_test),
            )
        )
    return out
