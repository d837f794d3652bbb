"""Quality figures and the exports: a small project judged by hand through the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from human_testkit import client_for, field, login, make_store, next_item

from valign.feedback.human import Store, export_project, project_stats
from valign.records.comparisons import load_comparisons
from valign.train.sft import load_demonstrations


def _rate(store: Store, rater: str, wants_a: dict[str, bool]) -> None:
    """Judge every item for ``rater``: A when wants_a[external id] (default True)."""
    c = client_for(store)
    csrf = login(c, rater)
    while (loc := next_item(c)) is not None:
        page = c.get(loc)
        ext = page.text.split("item <code>")[1].split("</code>")[0]
        shown_first = page.text.split("Response A")[1].split("Response B")[0]
        swapped = "cannot discuss" in shown_first  # item B is on the left
        want_a = wants_a.get(ext, True)
        left = want_a != swapped
        choice = "tie" if ext == "q5" else ("left" if left else "right")
        c.post(
            loc,
            data={
                "csrf": csrf,
                "choice": choice,
                "shown": field(page.text, "shown"),
                "principle[]": "honesty",
                "rationale": "clearer",
            },
        )


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = make_store(tmp_path_factory.mktemp("judged"), n=6, gold=2, overlap=3, gold_every=2)
    _rate(store, "ana", {})
    _rate(store, "bo", {})
    _rate(store, "cy", {"q0": False, "q1": False, "g6": False, "g7": False})
    return store


def test_stats(judged: Store) -> None:
    s = project_stats(judged, "p1")
    assert s.judgments == 24 and s.complete_items == 6
    assert s.raters["ana"].gold_accuracy == 1.0
    assert s.raters["cy"].gold_accuracy == 0.0
    kappas = {(k["rater_a"], k["rater_b"]): k["kappa"] for k in s.kappas}
    # ana and bo agree on all 8 items: labels A x7, tie x1 for both -> kappa 1
    assert kappas[("ana", "bo")] == pytest.approx(1.0)
    # ana vs cy: ana A,A,A,A,A,tie,A,A; cy B,B,A,A,A,tie,B,B -> p_o = 4/8;
    # p_e = (A: 7*3 + tie: 1*1 + B: 0*4) / 64 = 22/64; kappa = (32 - 22) / (64 - 22) = 5/21
    assert kappas[("ana", "cy")] == pytest.approx(5 / 21)
    assert s.alpha is not None and 0 < s.alpha < 1
    assert s.left_share is not None


def test_export_loads_as_comparisons(judged: Store, tmp_path: Path) -> None:
    written = export_project(judged, "p1", tmp_path / "out")
    rows = load_comparisons(tmp_path / "out" / "comparisons.jsonl")
    assert written["comparisons.jsonl"] == len(rows) == 21  # 24 judgments less 3 ties
    first = next(r for r in rows if r.id == "p1/q0/ana")
    assert first.source == "human" and first.rater == "ana" and first.principles == ["honesty"]
    assert first.chosen.startswith("In Lake Vesh")
    assert first.p_chosen == pytest.approx(2 / 3)
    assert first.meta["rationale"] == "clearer" and first.meta["rater_gold_accuracy"] == 1.0
    assert first.timestamp is not None and first.timestamp.tzinfo is not None
    agreement = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert agreement["raters"]["cy"]["gold_accuracy"] == 0.0


def test_majority_and_gold_filter(judged: Store, tmp_path: Path) -> None:
    export_project(judged, "p1", tmp_path / "m", mode="majority")
    rows = load_comparisons(tmp_path / "m" / "comparisons.jsonl")
    assert len(rows) == 7  # the tie item has no majority
    assert all(r.chosen.startswith("In Lake Vesh") for r in rows)
    assert rows[0].rater == "ana+bo+cy"
    export_project(judged, "p1", tmp_path / "g", min_gold_accuracy=0.5)
    kept = load_comparisons(tmp_path / "g" / "comparisons.jsonl")
    assert {r.rater for r in kept} == {"ana", "bo"}


def test_demonstrations_load_into_sft(tmp_path: Path) -> None:
    from valign.feedback.human import add_items
    from valign.feedback.human.projects import get_project, parse_item

    store = make_store(tmp_path, kind="demonstration", gold_every=0, overlap=1)
    add_items(
        store,
        "p1",
        [
            parse_item(
                {"id": "d1", "prompt": "Greet Oru.", "response": "hi"},
                get_project(store, "p1"),
                "t",
            )
        ],
    )
    c = client_for(store)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    c.post(loc, data={"csrf": csrf, "text": "Hello, Oru! How can I help?"})
    export_project(store, "p1", tmp_path / "d")
    demos = load_demonstrations(tmp_path / "d" / "demonstrations.jsonl")
    assert demos[0]["completion"][0]["content"] == "Hello, Oru! How can I help?"
