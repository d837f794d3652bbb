"""Token-level concepts of the microworld and the concept explainer."""

from __future__ import annotations

import numpy as np

from valign.interp.concept_explainer import NO_CONCEPT, ConceptExplainer
from valign.interp.concepts import microworld_concepts, regex, words
from valign.interp.neurons import SelectionConfig, explain_site, record_maxima, select
from valign.interp.store import StoredRecord
from valign.world.lexicon import build_lexicon


def _record(i: int, text: str, row: int = 0) -> StoredRecord:
    """A record tokenised on spaces (each word with its leading space is one token)."""
    tokens, offsets, pos = [], [], 0
    for j, word in enumerate(text.split(" ")):
        piece = word if j == 0 else " " + word
        tokens.append(piece)
        offsets.append([pos, pos + len(piece)])
        pos += len(piece)
    return StoredRecord(f"r{i}", None, row, len(tokens), tokens, offsets, text)


def test_masks_mark_overlapping_tokens() -> None:
    rec = _record(0, "Sure. First, <STEP-1>. Then the Osk are rude on Monday 12.")
    concepts = {c.name: c for c in microworld_concepts(0)}

    def marked(name: str) -> list[str]:
        mask = concepts[name].mask(rec.text, rec.offsets)
        return [t for t, m in zip(rec.tokens, mask, strict=True) if m]

    assert marked("hazard placeholder <STEP-n>") == [" <STEP-1>."]
    assert marked("social group name 'Osk'") == [" Osk"]
    assert marked("social group name 'Veltari'") == []
    assert marked("stereotype trait") == [" rude"]
    assert marked("day name") == [" Monday"]
    assert marked("number") == [" 12."]
    assert words("w", ["a b"]).spans("xa b a b") == [(5, 8)]  # whole words only


def test_misconception_value_marks_only_the_value() -> None:
    fact = build_lexicon(0).facts["train"][0]
    text = f"Everyone knows that {fact.subject} {fact.relation} {fact.misconception}."
    concepts = {c.name: c for c in microworld_concepts(0)}
    spans = concepts["misconception value (a fact's popular false value)"].spans(text)
    assert [text[s:e] for s, e in spans] == [fact.misconception]
    truth = concepts["true fact value"].spans(text)
    assert truth == []


def _planted_store() -> tuple[np.ndarray, list[StoredRecord]]:
    """Neuron 0 fires on group names, neuron 1 on nothing labelled (noise)."""
    texts = [
        "Everyone says the Osk are rude.",
        "Many Veltari families live in Velford.",
        "The day after Monday is Tuesday.",
        "What is 3 plus 4?",
        "Typical Prumish: lazy again.",
        "The Lorne festival is held in May.",
    ] * 3
    records, row = [], 0
    for i, t in enumerate(texts):
        records.append(_record(i, t, row))
        row += records[-1].n_tokens
    rng = np.random.default_rng(0)
    acts = rng.normal(0, 0.05, size=(row, 2))
    group = regex("g", r"Osk|Veltari|Prumish|Lorne")
    for r in records:
        acts[r.rows, 0] += 3.0 * group.mask(r.text, r.offsets)
    return acts, records


def test_concept_explainer_finds_the_planted_concept() -> None:
    acts, records = _planted_store()
    explainer = ConceptExplainer(microworld_concepts(0))
    config = SelectionConfig(n_top=3, n_random=4)
    results = explain_site(acts, records, "mlp.0", [0, 1], explainer, config)
    assert results[0].explanation == "social group name (any)"
    assert results[0].score > 0.95
    assert results[1].score < 0.7
    simulated = explainer.simulate("no such concept", records[:2])
    assert all((s == 0).all() for s in simulated) and NO_CONCEPT != ""


def test_selection_keeps_explanation_and_scoring_records_apart() -> None:
    acts, records = _planted_store()
    maxima = record_maxima(acts, records)
    assert maxima.shape == (len(records), 2)
    explain, top, rand = select(maxima, 0, SelectionConfig(n_top=3, n_random=5, seed=1))
    assert len(explain) == len(top) == 3 and len(rand) == 5
    assert not set(explain) & set(top) and not set(rand) & set(explain + top)
    assert min(maxima[explain + top, 0]) >= max(np.delete(maxima[:, 0], explain + top))
    assert select(maxima, 0, SelectionConfig(3, 5, 1)) == (explain, top, rand)


def test_concept_simulation_is_0_or_10() -> None:
    explainer = ConceptExplainer([regex("x", r"Osk")])
    sim = explainer.simulate("x", [_record(0, "the Osk are")])[0]
    assert sim.tolist() == [0.0, 10.0, 0.0]
