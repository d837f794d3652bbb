"""How far to trust a judge: accuracy, kappa and calibration against held-out labels."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from valign.feedback.agreement import agreement, calibration
from valign.stats import cohen_kappa


@dataclass(frozen=True)
class Verdict:
    """A judge's verdict as agreement reads it (any judge's will do)."""

    p_a: float
    principle: str
    flipped: bool = False


def test_kappa_and_calibration() -> None:
    assert cohen_kappa([(True, True), (False, False)] * 2) == 1.0
    assert cohen_kappa([(True, True), (True, False), (False, True), (False, False)]) == 0.0
    # the same kappa as the rating app's, with its rule for the undefined cases
    assert cohen_kappa([]) is None
    assert cohen_kappa([(True, True)] * 4) is None
    assert cohen_kappa([(True, False)] * 4) == 0.0
    same = agreement([Verdict(0.9, "p")] * 3, [True] * 3)
    assert same["overall"]["kappa"] is None
    cal = calibration([0.9] * 10, [True] * 9 + [False])
    assert cal["ece"] == pytest.approx(0.0, abs=1e-9)
    verdicts = [Verdict(0.9, "p"), Verdict(0.2, "q")]
    report = agreement(verdicts, [True, True])
    assert report["overall"]["accuracy"]["value"] == 0.5
    assert set(report["groups"]) == {"p", "q"}


def test_flips_and_groups() -> None:
    verdicts = [Verdict(0.7, "p", flipped=True), Verdict(0.8, "p")]
    report = agreement(verdicts, [True, True], groups=["x", "y"])
    assert report["overall"]["flip_rate"] == 0.5
    assert set(report["groups"]) == {"x", "y"}
    with pytest.raises(ValueError, match="2 verdicts but 1 labels"):
        agreement(verdicts, [True])
