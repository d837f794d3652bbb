"""Scoring an explanation by simulation (Bills et al. 2023, "Language models can explain
neurons in language models").

Activations shown to an explainer are discretised to integers 0..10 relative to the
neuron's largest activation; a simulator predicts one number per token from the
explanation alone. The score is the Pearson correlation between simulated and real
activations, pooled over every token of the scoring records (top-activating and random
ones together), so an explanation scores high only if it predicts both where the neuron
fires and where it stays quiet. Correlation ignores scale and offset, so the simulator
needs only the right shape, not calibrated magnitudes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_LEVEL = 10


def discretise(acts: np.ndarray, max_act: float) -> np.ndarray:
    """Integers 0..10: ``round(10 * act / max_act)``, negatives clipped to 0. A neuron that
    never fires (``max_act <= 0``) is all zeros."""
    if max_act <= 0:
        return np.zeros(len(acts), dtype=np.int64)
    levels = np.rint(MAX_LEVEL * np.asarray(acts, dtype=np.float64) / max_act)
    return np.clip(levels, 0, MAX_LEVEL).astype(np.int64)


def correlation(simulated: np.ndarray, real: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is constant (no signal to correlate)."""
    x = np.asarray(simulated, dtype=np.float64).ravel()
    y = np.asarray(real, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{x.size} simulated values for {y.size} real ones")
    if x.size < 2:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / denom) if denom > 0 else 0.0


def score_simulation(simulated: Sequence[np.ndarray], real: Sequence[np.ndarray]) -> float:
    """The explanation's score: correlation over all tokens of all scoring records."""
    if len(simulated) != len(real):
        raise ValueError(f"{len(simulated)} simulated records for {len(real)} real ones")
    if not real:
        return 0.0
    return correlation(np.concatenate(simulated), np.concatenate(real))
