"""Linear probes and concept directions on synthetic activations with a planted concept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from valign.errors import UserError
from valign.interp.directions import Direction, mean_difference, probe_direction
from valign.interp.probes import accuracy, balanced_accuracy, fit_probe, probe_sites


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 is shifted by 4 along axis 0 of a 6-d Gaussian; 1 in 4 examples positive."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int64)
    x = rng.normal(size=(n, 6))
    x[:, 0] += 4.0 * y + 5.0  # an offset too, which standardisation must absorb
    return x, y


def test_probe_recovers_a_planted_direction() -> None:
    x, y = _data(400, 0)
    xt, yt = _data(400, 1)
    probe = fit_probe(x, y)
    assert balanced_accuracy(yt, probe.predict(xt)) > 0.9
    d = probe.direction()
    assert np.linalg.norm(d) == pytest.approx(1.0) and d[0] > 0.9
    results = probe_sites(
        {"resid.0": x, "resid.1": x[:, 1:]}, y, {"resid.0": xt, "resid.1": xt[:, 1:]}, yt
    )
    assert results[0].test_balanced_accuracy > 0.9
    assert results[1].test_balanced_accuracy == pytest.approx(0.5, abs=0.1)  # no signal there
    with pytest.raises(ValueError, match="both classes"):
        fit_probe(x, np.zeros(len(x)))


def test_accuracies_by_hand() -> None:
    y, pred = np.array([1, 0, 0, 0]), np.array([1, 1, 0, 0])
    assert accuracy(y, pred) == 0.75
    assert balanced_accuracy(y, pred) == pytest.approx((1.0 + 2 / 3) / 2)


def test_directions_point_from_negative_to_positive(tmp_path: Path) -> None:
    x, y = _data(400, 0)
    pos, neg = x[y == 1], x[y == 0]
    dom = mean_difference("resid.0", pos, neg, "c")
    gap = pos.mean(0) - neg.mean(0)
    np.testing.assert_allclose(dom.unit, gap / np.linalg.norm(gap))
    assert dom.scale == pytest.approx(np.linalg.norm(gap))
    pd = probe_direction("resid.0", fit_probe(x, y), pos, neg, "c")
    assert pd.scale > 0 and pd.unit @ dom.unit > 0.9
    dom.save(tmp_path / "d.json")
    back = Direction.load(tmp_path / "d.json")
    np.testing.assert_allclose(back.unit, dom.unit) and back.scale == dom.scale
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UserError, match="not a direction file"):
        Direction.load(tmp_path / "bad.json")
