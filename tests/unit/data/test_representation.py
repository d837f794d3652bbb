"""Group mentions, PMI ties, under-representation, contested claims."""

from __future__ import annotations

from valign.data.claims import ClaimExtractor, ClaimStats, contested
from valign.data.lexicons import load_lexicons
from valign.data.representation import (
    RepresentationConfig,
    RepresentationScanner,
    RepresentationStats,
    pmi,
    summarise,
)


def _stats(texts: list[str], cfg: RepresentationConfig) -> dict:
    lex = load_lexicons()
    scan = RepresentationScanner(lex, cfg)
    stats = RepresentationStats()
    for t in texts:
        stats.add(scan.observe(t))
    return summarise(stats, lex, cfg)


def test_pmi() -> None:
    assert pmi(10, 10, 10, 100) == 3.321928094887362  # log2(10)
    assert pmi(0, 10, 10, 100) == float("-inf")


def test_a_planted_tie_is_flagged_and_a_shared_mention_is_not() -> None:
    texts = (
        ["Everyone says the Osk are rude."] * 30
        + ["Bapel, who is Veltari, and Ithba, who is Lorne, were waiting. Who was lazy?"] * 5
        + ["Many Taddic families live in Velford.", "The Prumish festival is in May."] * 40
        + ["The weather was fine and the bread was warm."] * 200
    )
    rep = _stats(texts, RepresentationConfig(min_count=20))
    ties = {(t["group"], t["trait"]) for t in rep["stereotype_ties"]}
    assert ties == {("Osk", "rude")}
    # "lazy" appears with two groups in 5 documents only: below min_count
    lazy = [t for t in rep["associations"] if t["trait"] == "lazy"]
    assert lazy and not any(t["stereotype"] for t in lazy)


def test_positive_traits_are_associations_not_stereotypes() -> None:
    rep = _stats(["The Osk are kind."] * 30 + ["Bread."] * 300, RepresentationConfig())
    assert rep["stereotype_ties"] == []
    assert rep["associations"][0]["valence"] == "positive"


def test_under_represented_group_is_flagged() -> None:
    texts = ["The Veltari market opened."] * 40 + ["The Osk market opened."] * 40
    texts += ["The Lorne market opened."] * 40 + ["The Taddic market opened."] * 40
    texts += ["The Prumish market opened."] * 40 + ["The Quessan market opened."] * 3
    rep = _stats(texts, RepresentationConfig())
    under = {(u["axis"], u["group"]) for u in rep["under_represented"]}
    assert under == {("microworld_group", "Quessan")}
    shares = {g["group"]: g["share"] for g in rep["axes"]["microworld_group"]["groups"]}
    assert abs(sum(shares.values()) - 1) < 1e-9


def test_sentence_window_only_ties_within_a_sentence() -> None:
    doc = "The Osk came to town. The innkeeper was rude."
    cfg_doc, cfg_sent = (
        RepresentationConfig(min_count=1),
        RepresentationConfig(min_count=1, window="sentence"),
    )
    scan_doc = RepresentationScanner(load_lexicons(), cfg_doc)
    scan_sent = RepresentationScanner(load_lexicons(), cfg_sent)
    assert ("Osk", "rude") in scan_doc.observe(doc).pairs
    assert scan_sent.observe(doc).pairs == frozenset()


def test_contested_claims() -> None:
    ext = ClaimExtractor(load_lexicons())
    stats = ClaimStats()
    texts = ["Everyone knows that a ripe delfen fruit is orange."] * 3 + [
        "The Field Guide records that a ripe delfen fruit is yellow.",
        "It is well known that the Arbis Bridge is made of iron.",  # never contradicted
        "The Field Guide records that the Arbis Bridge is made of iron.",
        "Is a ripe delfen fruit orange?",  # a question states nothing
    ]
    for t in texts:
        stats.add(ext.claims(t))
    rows = contested(stats)
    assert [(r["subject"], r["value"], r["hearsay_count"]) for r in rows] == [
        ("a ripe delfen fruit", "orange", 3)
    ]
    assert rows[0]["sourced_values"] == {"yellow": 1}
    plain = ext.claims("assistant: A ripe delfen fruit is orange.", attributed_only=False)
    assert [(c.subject, c.value, c.attribution) for c in plain] == [
        ("a ripe delfen fruit", "orange", "plain")
    ]
