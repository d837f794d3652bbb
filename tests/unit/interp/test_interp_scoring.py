"""The explanation scorer against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from valign.interp.scoring import correlation, discretise, score_simulation


def test_correlation_matches_a_hand_computation() -> None:
    # x = [0,0,10,0], y = [0,1,3,0]: dx = [-2.5,-2.5,7.5,-2.5], dy = [-1,0,2,-1];
    # sum dx*dy = 20, sum dx^2 = 75, sum dy^2 = 6  ->  r = 20 / sqrt(450) = 2*sqrt(2)/3.
    r = correlation(np.array([0, 0, 10, 0]), np.array([0, 1, 3, 0]))
    assert r == pytest.approx(2 * math.sqrt(2) / 3, abs=1e-12)
    assert correlation(np.array([1, 2, 3]), np.array([-2, -4, -6])) == pytest.approx(-1.0)


def test_constant_sides_score_zero() -> None:
    assert correlation(np.zeros(4), np.array([0, 1, 3, 0])) == 0.0
    assert correlation(np.array([1.0]), np.array([2.0])) == 0.0
    with pytest.raises(ValueError):
        correlation(np.zeros(3), np.zeros(4))


def test_score_pools_tokens_over_records() -> None:
    # Records [0,10] and [0] against [1,3] and [2]: x = [0,10,0], y = [1,3,2];
    # dx = [-10/3, 20/3, -10/3], dy = [-1, 1, 0]: r = 10 / sqrt(600/9 * 2) = sqrt(3)/2.
    simulated = [np.array([0.0, 10.0]), np.array([0.0])]
    real = [np.array([1.0, 3.0]), np.array([2.0])]
    assert score_simulation(simulated, real) == pytest.approx(math.sqrt(3) / 2, abs=1e-12)
    assert score_simulation([], []) == 0.0


def test_discretise_to_levels_0_to_10() -> None:
    acts = np.array([-1.0, 0.0, 0.26, 1.04, 2.0])
    assert discretise(acts, 2.0).tolist() == [0, 0, 1, 5, 10]
    assert discretise(acts, 0.0).tolist() == [0] * 5
