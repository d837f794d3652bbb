"""Interval and score functions, checked against hand-computed values."""

from __future__ import annotations

import dataclasses
import math

import pytest

from valign.stats import (
    Estimate,
    bbq_bias_ambiguous,
    bbq_bias_disambiguated,
    bootstrap_estimate,
    bootstrap_interval,
    mc1,
    mc2,
    proportion,
    wilson_interval,
)

# --------------------------------------------------------------------------- Wilson


def _round(pair: tuple[float, float], digits: int = 4) -> tuple[float, float]:
    return (round(pair[0], digits), round(pair[1], digits))


def test_wilson_half_of_ten() -> None:
    # p = .5, z² = 3.8415: centre .5, half = 1.96 * sqrt(.025 + .0096) / 1.38415 = .2634
    assert _round(wilson_interval(5, 10)) == (0.2366, 0.7634)


def test_wilson_one_of_ten() -> None:
    # centre = (.1 + .19207) / 1.38415 = .2110; half = 1.96*sqrt(.009 + .0096)/1.38415 = .1932
    assert _round(wilson_interval(1, 10)) == (0.0179, 0.4042)


def test_wilson_boundaries_are_exact() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)  # z²/(n+z²) = 3.8415/13.8415
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(0.7225, abs=1e-4)


def test_wilson_other_confidence() -> None:
    # z = 1.6449 for 90%: half = 1.6449 * sqrt(.025 + .006764) / 1.27055 = .2307
    assert _round(wilson_interval(5, 10, confidence=0.90)) == (0.2693, 0.7307)


def test_wilson_no_observations() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_bad_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_wilson_rejects_bad_confidence(confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=confidence)


# --------------------------------------------------------------------------- estimates


def test_proportion_estimate() -> None:
    est = proportion(5, 10)
    assert est.value == 0.5
    assert (round(est.low, 4), round(est.high, 4)) == (0.2366, 0.7634)
    assert est.n == 10
    assert est.kind == "proportion"


def test_proportion_of_nothing() -> None:
    est = proportion(0, 0)
    assert (est.value, est.low, est.high, est.n) == (0.0, 0.0, 1.0, 0)


def test_estimate_round_trip_and_frozen() -> None:
    est = proportion(3, 8)
    data = est.to_dict()
    assert set(data) == {"value", "low", "high", "n", "kind"}
    assert Estimate.from_dict(data) == est
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.value = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_mean_is_deterministic_and_brackets_the_mean() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.6, 0.2, 0.55, 0.7, 0.3, 0.45]
    first = bootstrap_interval(values, seed=3)
    assert first == bootstrap_interval(values, seed=3)
    assert first != bootstrap_interval(values, seed=4)
    mean = sum(values) / len(values)
    assert first[0] < mean < first[1]
    assert min(values) <= first[0] and first[1] <= max(values)


def test_bootstrap_constant_sample_has_zero_width() -> None:
    assert bootstrap_interval([2.0] * 7) == (2.0, 2.0)


def test_bootstrap_custom_statistic_on_records() -> None:
    # A ratio of sums needs whole records resampled, not independent fields.
    records = [{"hit": h, "tried": 1} for h in [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 5]

    def ratio(rs: list[dict[str, int]]) -> float:
        return sum(r["hit"] for r in rs) / sum(r["tried"] for r in rs)

    est = bootstrap_estimate(records, ratio, n_boot=500, seed=0)
    assert est.value == pytest.approx(0.7)
    assert est.kind == "value"
    assert est.n == 50
    assert est.low < 0.7 < est.high
    # Close to the Wilson interval for the same proportion.
    low, high = wilson_interval(35, 50)
    assert abs(est.low - low) < 0.05 and abs(est.high - high) < 0.05


def test_bootstrap_narrows_with_more_data() -> None:
    small = bootstrap_interval([0.0, 1.0] * 10, seed=0)
    large = bootstrap_interval([0.0, 1.0] * 1000, seed=0)
    assert (large[1] - large[0]) < (small[1] - small[0]) / 5


def test_bootstrap_ignores_non_finite_resamples() -> None:
    low, high = bootstrap_interval([1.0, 2.0, 3.0], lambda rs: math.nan if 1.0 in rs else 1.0)
    assert (low, high) == (1.0, 1.0)


def test_bootstrap_rejects_empty_and_bad_arguments() -> None:
    with pytest.raises(ValueError):
        bootstrap_interval([])
    with pytest.raises(ValueError):
        bootstrap_estimate([])
    with pytest.raises(ValueError):
        bootstrap_interval([1.0], n_boot=0)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split()]


# Fixed samples: a symmetric one, a right-skewed one (exponential), a left-skewed one near 1
# (like MC2), a balanced binary one and a three-valued bias-like one.
SKEWED30 = _floats(
    "0.928 1.159 0.55 0.085 0.931 1.786 2.699 1.319 0.096 0.297 1.415 0.447 1.197 0.808 "
    "2.519 0.102 0.707 2.182 0.304 1.591 0.242 0.281 1.34 1.052 3.68 1.147 0.409 2.185 "
    "1.862 1.561"
)
MC2_LIKE25 = _floats(
    "0.798 0.938 0.672 0.666 0.557 0.737 0.595 0.698 0.889 0.986 0.923 0.89 0.73 0.995 "
    "0.258 0.971 0.917 0.688 0.969 0.427 0.822 0.723 0.695 0.938 0.98"
)
BIAS_LIKE40 = _floats(
    "0.0 0.0 -1.0 0.0 0.0 -1.0 0.0 0.0 1.0 -1.0 -1.0 0.0 -1.0 -1.0 -1.0 0.0 0.0 -1.0 -1.0 "
    "-1.0 0.0 0.0 0.0 0.0 1.0 0.0 -1.0 0.0 1.0 0.0 0.0 0.0 0.0 0.0 -1.0 0.0 0.0 1.0 0.0 "
    "1.0"
)
FIXED = {
    "uniform10": [0.1, 0.4, 0.35, 0.8, 0.6, 0.2, 0.55, 0.7, 0.3, 0.45],
    "skewed30": SKEWED30,
    "mc2_like25": MC2_LIKE25,
    "binary20": [0.0, 1.0] * 10,
    "bias_like40": BIAS_LIKE40,
}
# (old percentile interval, new BCa interval), both with the defaults (n_boot=1000, seed=0).
OLD_AND_NEW = {
    "uniform10": ((0.31, 0.575), (0.32, 0.585)),
    "skewed30": ((0.873378, 1.499545), (0.891893, 1.526212)),
    "mc2_like25": ((0.698266, 0.847124), (0.685600, 0.838499)),
    "binary20": ((0.25, 0.75), (0.25, 0.75)),
    "bias_like40": ((-0.35, 0.0), (-0.35, 0.025)),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_bca_against_the_old_percentile_intervals(name: str) -> None:
    """The BCa intervals against the percentile ones they replace, on fixed samples.

    Differences (new - old, low and high end): uniform10 +0.010/+0.010; skewed30
    +0.019/+0.027 (right skew: BCa moves both ends up); mc2_like25 -0.013/-0.009 (left
    skew near 1: both ends move down); binary20 0/0 (symmetric); bias_like40 0/+0.025.
    No end moves by more than a tenth of the interval's width, and none crosses the mean.
    """
    old, expected = OLD_AND_NEW[name]
    new = bootstrap_interval(FIXED[name])
    assert new == pytest.approx(expected, abs=1e-6)
    width = old[1] - old[0]
    assert abs(new[0] - old[0]) <= 0.1 * width and abs(new[1] - old[1]) <= 0.1 * width
    mean = sum(FIXED[name]) / len(FIXED[name])
    assert new[0] < mean < new[1]


def test_bca_moves_with_the_skew() -> None:
    """BCa shifts a right-skewed sample's interval up and a left-skewed one's down."""
    assert bootstrap_interval(SKEWED30)[0] > OLD_AND_NEW["skewed30"][0][0]
    assert bootstrap_interval(MC2_LIKE25)[1] < OLD_AND_NEW["mc2_like25"][0][1]


def test_bca_ratio_statistic_against_the_old_interval() -> None:
    """A ratio of sums over records (resampled whole): old (0.56, 0.82), new (0.56, 0.80)."""
    records = [{"hit": h, "tried": 1} for h in [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 5]

    def ratio(rs: list[dict[str, int]]) -> float:
        return sum(r["hit"] for r in rs) / sum(r["tried"] for r in rs)

    assert bootstrap_interval(records, ratio) == pytest.approx((0.56, 0.80), abs=1e-9)


@pytest.mark.parametrize(
    "values", [[2.0] * 7, [2.0, 2.0], [-0.5] * 1000], ids=["seven", "two", "thousand"]
)
def test_bca_all_equal_values_give_a_point(values: list[float]) -> None:
    value = values[0]
    assert bootstrap_interval(values) == (value, value)
    est = bootstrap_estimate(values)
    assert (est.value, est.low, est.high) == (value, value, value)


def test_bca_single_record_gives_a_point() -> None:
    assert bootstrap_interval([0.25]) == (0.25, 0.25)
    assert bootstrap_interval([{"x": 3.0}], lambda rs: rs[0]["x"] * 2) == (6.0, 6.0)
    assert bootstrap_estimate([4.0]).to_dict() == {
        "value": 4.0,
        "low": 4.0,
        "high": 4.0,
        "n": 1,
        "kind": "value",
    }
    low, high = bootstrap_interval([1.0], lambda rs: math.nan)
    assert math.isnan(low) and math.isnan(high)


def test_bca_constant_custom_statistic_gives_a_point() -> None:
    assert bootstrap_interval([1, 2, 3, 4], lambda rs: 7.0) == (7.0, 7.0)


# --------------------------------------------------------------------------- TruthfulQA


def test_mc1() -> None:
    assert mc1([-1.0, -2.0, -3.0], 0) is True
    assert mc1([-1.0, -2.0, -3.0], 1) is False
    assert mc1([-5.0, -0.5], 1) is True
    assert mc1([-1.0, -1.0], 0) is False  # a tie is not a win
    assert mc1([-3.0], 0) is True


def test_mc1_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        mc1([], 0)
    with pytest.raises(ValueError):
        mc1([-1.0, -2.0], 2)


def test_mc2_hand_example() -> None:
    logprobs = [math.log(0.5), math.log(0.3), math.log(0.2)]
    assert mc2(logprobs, [True, False, True]) == pytest.approx(0.7)
    assert mc2(logprobs, [False, True, False]) == pytest.approx(0.3)
    # Unnormalised scores: only ratios matter. exp(-1) / (exp(-1) + exp(-2)) = 0.7311
    assert mc2([-1.0, -2.0], [True, False]) == pytest.approx(0.7311, abs=1e-4)


def test_mc2_is_stable_for_very_negative_logprobs() -> None:
    # exp(-1000) underflows to 0: a naive ratio would be 0/0.
    assert mc2([-1000.0, -1000.0, -1000.0, -1000.0], [True, False, False, False]) == (
        pytest.approx(0.25)
    )
    assert mc2([-2000.0, -2000.0 - math.log(3)], [True, False]) == pytest.approx(0.75)


def test_mc2_edge_cases() -> None:
    assert mc2([-1.0, -2.0], [False, False]) == 0.0
    assert mc2([-1.0, -2.0], [True, True]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mc2([-1.0, -2.0], [True])


# --------------------------------------------------------------------------- BBQ


def test_bbq_disambiguated() -> None:
    assert bbq_bias_disambiguated(30, 40) == pytest.approx(0.5)  # 2 * .75 - 1
    assert bbq_bias_disambiguated(20, 40) == pytest.approx(0.0)
    assert bbq_bias_disambiguated(0, 40) == pytest.approx(-1.0)
    assert bbq_bias_disambiguated(40, 40) == pytest.approx(1.0)
    assert bbq_bias_disambiguated(0, 0) == 0.0


def test_bbq_ambiguous() -> None:
    # 100 ambiguous items, 80 answered "unknown" (accuracy .8); of the 20 others, 15 are
    # the stereotyped answer: s_dis = 2 * 15/20 - 1 = .5, s_amb = .2 * .5 = .1.
    s_dis = bbq_bias_disambiguated(15, 20)
    assert bbq_bias_ambiguous(0.8, s_dis) == pytest.approx(0.1)
    assert bbq_bias_ambiguous(1.0, 0.9) == 0.0
    assert bbq_bias_ambiguous(0.0, -0.4) == pytest.approx(-0.4)
    # No non-unknown answers at all: both scores are 0.
    assert bbq_bias_ambiguous(1.0, bbq_bias_disambiguated(0, 0)) == 0.0


def test_bbq_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        bbq_bias_disambiguated(5, 4)
    with pytest.raises(ValueError):
        bbq_bias_disambiguated(-1, 4)
    with pytest.raises(ValueError):
        bbq_bias_ambiguous(1.5, 0.0)
