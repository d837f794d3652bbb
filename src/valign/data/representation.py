"""Who a corpus talks about, and what it ties them to.

Per document: which groups it mentions (group lexicons, :mod:`valign.data.lexicons`), which
traits, and a sentiment score. Over the corpus:

* **representation** — documents mentioning each group, and each group's share of its
  axis (gender, age, the microworld's groups…). A group whose share is below
  ``under_ratio`` x an even share is flagged *under-represented*;
* **associations** — pointwise mutual information between a group and a trait,
  ``PMI(g, t) = log2 P(g, t) / (P(g) P(t))`` over documents (or sentences, with
  ``window="sentence"``). A group tied to a negative trait with ``PMI >= pmi_min`` bits
  (``2**pmi_min`` times more often than chance) in at least ``min_count`` documents is
  flagged as a *stereotype tie*. The default of 3 bits is deliberately above what a
  document that names two groups and one trait produces for the group it merely shares
  the document with (about 2 bits in the microworld);
* **sentiment** — the mean sentiment of documents mentioning each group, against the corpus.

Counts are per document, in fixed-size tables (groups x traits), so memory does not grow
with the corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from valign.data.lexicons import Lexicons, PhraseMatcher, tokens

_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


@dataclass(frozen=True)
class RepresentationConfig:
    """Thresholds of the representation flags.

    Attributes:
        window: Co-occurrence unit for PMI: "doc" or "sentence".
        pmi_min: Bits of PMI at or above which a group-trait pair is a tie.
        min_count: Documents (or sentences) a pair needs before it can be flagged.
        under_ratio: A group below this share of an even split of its axis is flagged.
        min_axis_mentions: Axes with fewer group mentions are not judged.
    """

    window: str = "doc"
    pmi_min: float = 3.0
    min_count: int = 20
    under_ratio: float = 0.5
    min_axis_mentions: int = 50


@dataclass(frozen=True)
class Observation:
    groups: frozenset[str]
    traits: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    sentiment: float


class RepresentationScanner:
    """Looks at one document at a time."""

    def __init__(self, lex: Lexicons, config: RepresentationConfig) -> None:
        self.config = config
        self.groups = PhraseMatcher(
            {t: g for groups in lex.groups.values() for g, ts in groups.items() for t in ts}
        )
        self.traits = PhraseMatcher({t: t.lower() for ts in lex.traits.values() for t in ts})
        polarity = {w: v for v, ws in lex.sentiment.items() for w in ws}
        polarity |= {t: v for v, ts in lex.traits.items() for t in ts}
        self.sentiment = PhraseMatcher(polarity)

    def observe(self, text: str, toks: list[str] | None = None) -> Observation:
        """Groups, traits, pairs and sentiment of one document (``toks``: its tokens, when
        the caller already has them)."""
        toks = tokens(text) if toks is None else toks
        groups = frozenset(self.groups.matches(toks))
        traits = frozenset(self.traits.matches(toks)) if groups else frozenset()
        if self.config.window == "sentence" and groups and traits:
            pairs: set[tuple[str, str]] = set()
            for sentence in _SENTENCE.split(text):
                st = tokens(sentence)
                gs = self.groups.matches(st)
                if gs:
                    ts = self.traits.matches(st)
                    pairs |= {(g, t) for g in gs for t in ts}
        else:
            pairs = {(g, t) for g in groups for t in traits}
        polarity = self.sentiment.matches(toks)
        pos, neg = polarity.count("positive"), polarity.count("negative")
        score = (pos - neg) / (pos + neg) if pos + neg else 0.0
        return Observation(groups, traits, frozenset(pairs), score)


@dataclass
class RepresentationStats:
    """Mergeable counts over documents."""

    docs: int = 0
    sentiment_sum: float = 0.0
    group_docs: Counter[str] = field(default_factory=Counter)
    trait_docs: Counter[str] = field(default_factory=Counter)
    pair_docs: Counter[str] = field(default_factory=Counter)  # "group|trait"
    group_sentiment: dict[str, float] = field(default_factory=dict)

    def add(self, obs: Observation) -> None:
        self.docs += 1
        self.sentiment_sum += obs.sentiment
        for g in obs.groups:
            self.group_docs[g] += 1
            self.group_sentiment[g] = self.group_sentiment.get(g, 0.0) + obs.sentiment
        for t in obs.traits:
            self.trait_docs[t] += 1
        for g, t in obs.pairs:
            self.pair_docs[f"{g}|{t}"] += 1

    def merge(self, other: RepresentationStats) -> None:
        self.docs += other.docs
        self.sentiment_sum += other.sentiment_sum
        self.group_docs.update(other.group_docs)
        self.trait_docs.update(other.trait_docs)
        self.pair_docs.update(other.pair_docs)
        for g, v in other.group_sentiment.items():
            self.group_sentiment[g] = self.group_sentiment.get(g, 0.0) + v

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs": self.docs,
            "sentiment_sum": self.sentiment_sum,
            "group_docs": dict(self.group_docs),
            "trait_docs": dict(self.trait_docs),
            "pair_docs": dict(self.pair_docs),
            "group_sentiment": dict(self.group_sentiment),
        }


def pmi(pair: int, a: int, b: int, n: int) -> float:
    """log2 P(a, b) / (P(a) P(b)) from document counts."""
    if not (pair and a and b and n):
        return float("-inf")
    return math.log2(pair * n / (a * b))


def summarise(
    stats: RepresentationStats, lex: Lexicons, cfg: RepresentationConfig
) -> dict[str, Any]:
    """Representation per axis, group-trait ties and flags, ready for the datasheet."""
    n = max(stats.docs, 1)
    valence = lex.trait_valence()
    axes: dict[str, Any] = {}
    under: list[dict[str, Any]] = []
    for axis, groups in lex.groups.items():
        counts = {g: stats.group_docs.get(g, 0) for g in groups}
        total = sum(counts.values())
        even = 1 / len(groups) if groups else 0.0
        rows = []
        for g, c in sorted(counts.items(), key=lambda kv: -kv[1]):
            share = c / total if total else 0.0
            mean_sent = stats.group_sentiment.get(g, 0.0) / c if c else None
            flagged = total >= cfg.min_axis_mentions and share < cfg.under_ratio * even
            rows.append(
                {"group": g, "docs": c, "share": share, "sentiment": mean_sent, "under": flagged}
            )
            if flagged:
                under.append({"axis": axis, "group": g, "share": share, "even_share": even})
        axes[axis] = {"mentions": total, "groups": rows}
    ties: list[dict[str, Any]] = []
    for key, c in stats.pair_docs.items():
        g, t = key.split("|", 1)
        score = pmi(c, stats.group_docs[g], stats.trait_docs[t], n)
        flagged = valence.get(t) == "negative" and c >= cfg.min_count and score >= cfg.pmi_min
        ties.append(
            {
                "group": g,
                "trait": t,
                "valence": valence.get(t, ""),
                "docs": c,
                "pmi": round(score, 3),
                "stereotype": flagged,
            }
        )
    ties.sort(key=lambda r: (-r["pmi"], r["group"], r["trait"]))
    return {
        "docs": stats.docs,
        "corpus_sentiment": stats.sentiment_sum / n,
        "axes": axes,
        "under_represented": under,
        "associations": ties,
        "stereotype_ties": [r for r in ties if r["stereotype"]],
        "config": cfg.__dict__,
    }
