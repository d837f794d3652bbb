"""Agreement statistics against values computed by hand and published reference values."""

from __future__ import annotations

import random

import pytest

from valign.feedback.human.agreement import krippendorff_alpha, pairwise_kappas
from valign.stats import cohen_kappa

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
# observers, twelve units, missing values as None. Published: nominal 0.743,
# ordinal 0.815, interval 0.849.
_K = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
UNITS = [[row[u] for row in _K if row[u] is not None] for u in range(12)]


@pytest.mark.parametrize(
    ("metric", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_alpha_matches_krippendorffs_worked_example(metric: str, published: float) -> None:
    assert krippendorff_alpha(UNITS, metric) == pytest.approx(published, abs=5e-4)  # type: ignore[arg-type]


def test_alpha_nominal_by_hand() -> None:
    # Units (A,A), (A,B), (B,B): coincidences o_AA=2, o_AB=o_BA=1, o_BB=2; n_A=n_B=3, n=6.
    # D_o = 2/6; D_e = (3*3 + 3*3) / (6*5) = 18/30; alpha = 1 - (1/3)/(3/5) = 4/9.
    assert krippendorff_alpha([["A", "A"], ["A", "B"], ["B", "B"]]) == pytest.approx(4 / 9)


def test_alpha_ignores_single_values_and_handles_degenerate_cases() -> None:
    assert krippendorff_alpha([["A", "A"], ["A", "B"], ["B", "B"], ["B"]]) == pytest.approx(4 / 9)
    assert krippendorff_alpha([["A"], ["B"]]) is None  # nothing paired
    assert krippendorff_alpha([["A", "A"], ["A", "A"]]) is None  # no variation at all
    assert krippendorff_alpha([["A", "A", "A"], ["B", "B"]]) == pytest.approx(1.0)


def test_kappa_by_hand() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 35/50 = 0.7;
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([("A", "B"), ("B", "A")]) == pytest.approx(-1.0)
    assert cohen_kappa([]) is None
    assert cohen_kappa([("A", "A"), ("A", "A")]) is None


@pytest.mark.parametrize(
    "pairs",
    [
        [],  # nothing shared
        [("A", "A")],  # one item
        [("A", "A")] * 5,  # perfect agreement on a single class: 0/0
        [(True, True)] * 3,
    ],
    ids=["empty", "one-item", "one-class", "one-class-bool"],
)
def test_kappa_is_none_where_undefined(pairs: list[tuple[object, object]]) -> None:
    assert cohen_kappa(pairs) is None


def test_kappa_degenerate_but_defined_cases() -> None:
    # each rater uses one label, but not the same: p_e = 0, p_o = 0
    assert cohen_kappa([("A", "B")] * 4) == 0.0
    # one rater constant, the other not: p_e = p_o, kappa 0
    assert cohen_kappa([("A", "A"), ("A", "B"), ("A", "A"), ("A", "B")]) == pytest.approx(0.0)
    # perfect agreement over two classes
    assert cohen_kappa([("A", "A"), ("B", "B")]) == 1.0
    # labels of mixed types are compared for equality only
    assert cohen_kappa([(1, 1), ("x", "x"), (None, 1)]) == pytest.approx(0.5)


def test_kappa_matches_sklearn() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(3)
    a = [rng.choice("ABC") for _ in range(40)]
    b = [x if rng.random() < 0.6 else rng.choice("ABC") for x in a]
    assert cohen_kappa(list(zip(a, b, strict=True))) == pytest.approx(cohen_kappa_score(a, b))


def test_pairwise_kappas_use_shared_items_only() -> None:
    labels = {
        "r1": {1: "A", 2: "B", 3: "A"},
        "r2": {1: "A", 2: "B", 4: "B"},
        "r3": {9: "A"},
    }
    out = pairwise_kappas(labels)
    assert out == [("r1", "r2", 2, pytest.approx(1.0))]
