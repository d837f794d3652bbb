"""Contested claims: the same question answered one way by hearsay and another by a source.

Imitative falsehoods enter a model as popular beliefs repeated more often than the truth
("Everyone knows that a ripe ethnur fruit is orange." against "The Field Guide records
that a ripe ethnur fruit is yellow."). A corpus audit cannot know the truth, but it can
see the pattern: a sentence that opens with a hearsay marker states ``subject relation
value``; when the same subject and relation also occur under a source marker with a
different value, the hearsay value is flagged as a likely misconception, together with
how often each side is said.

Only attributed sentences (a hearsay or a source marker) are collected, so the table
stays small on any corpus; markers and relations are lexicon data
(``lexicons/claims/*.yaml``), so other languages and marker styles plug in. Unattributed
statements of a flagged value are counted when the filter applies (``contested_claims``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from valign.data.lexicons import Lexicons

_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_ROLE = re.compile(r"^(?:user|assistant|system):\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    subject: str
    relation: str
    value: str
    attribution: str  # "hearsay", "sourced" or "plain"

    @property
    def key(self) -> str:
        return f"{self.subject}|{self.relation}"


class ClaimExtractor:
    """Splits sentences into (subject, relation, value) with their attribution."""

    def __init__(self, lex: Lexicons) -> None:
        self.kind = {m.lower(): "hearsay" for m in lex.hearsay}
        self.kind |= {m.lower(): "sourced" for m in lex.sourced}
        markers = sorted(self.kind, key=len, reverse=True)
        body = "|".join(re.escape(m) for m in markers) or r"(?!x)x"
        self.marker = re.compile(rf"^(?:{body})")
        rels = sorted({r.lower() for r in lex.relations}, key=len, reverse=True)
        body = "|".join(re.escape(r) for r in rels) or r"(?!x)x"
        self.pattern = re.compile(rf"^(?P<s>.+?) (?P<r>{body}) (?P<v>.+?)[.!]?$")

    def claims(self, text: str, attributed_only: bool = True) -> list[Claim]:
        out: list[Claim] = []
        for raw in _SPLIT.split(text):
            sentence = _ROLE.sub("", raw.strip()).lower()
            if not sentence or sentence.endswith("?"):
                continue
            attribution = "plain"
            m = self.marker.match(sentence)
            if m:
                attribution = self.kind[m.group(0)]
                sentence = sentence[m.end() :].strip(" ,")
            if attributed_only and attribution == "plain":
                continue
            m = self.pattern.match(sentence)
            if m is not None and len(m["s"].split()) <= 8 and len(m["v"].split()) <= 6:
                out.append(Claim(m["s"], m["r"], m["v"], attribution))
        return out


@dataclass
class ClaimStats:
    """Counts of attributed claims: key -> "value|attribution" -> count (mergeable).

    ``max_keys`` bounds memory; claims with new keys beyond it are counted as dropped.
    """

    max_keys: int = 200_000
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    dropped: int = 0

    def add(self, claims: list[Claim]) -> None:
        for c in claims:
            table = self.counts.get(c.key)
            if table is None:
                if len(self.counts) >= self.max_keys:
                    self.dropped += 1
                    continue
                table = self.counts[c.key] = Counter()
            table[f"{c.value}|{c.attribution}"] += 1

    def merge(self, other: ClaimStats) -> None:
        for key, table in other.counts.items():
            if key in self.counts:
                self.counts[key].update(table)
            elif len(self.counts) < self.max_keys:
                self.counts[key] = Counter(table)
            else:
                self.dropped += sum(table.values())
        self.dropped += other.dropped


def contested(stats: ClaimStats, min_count: int = 2) -> list[dict[str, Any]]:
    """Hearsay values contradicted by a sourced value for the same subject and relation."""
    rows: list[dict[str, Any]] = []
    for key, table in stats.counts.items():
        hearsay: Counter[str] = Counter()
        sourced: Counter[str] = Counter()
        for vk, n in table.items():
            value, attribution = vk.rsplit("|", 1)
            (hearsay if attribution == "hearsay" else sourced)[value] += n
        if not sourced:
            continue
        for value, n in hearsay.items():
            if n < min_count or value in sourced:
                continue
            subject, relation = key.split("|", 1)
            rows.append(
                {
                    "subject": subject,
                    "relation": relation,
                    "value": value,
                    "hearsay_count": n,
                    "sourced_values": dict(sourced),
                    "sourced_count": sum(sourced.values()),
                }
            )
    rows.sort(key=lambda r: (-r["hearsay_count"], r["subject"]))
    return rows
