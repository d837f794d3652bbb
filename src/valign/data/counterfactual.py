"""Counterfactual data: the same document with its groups relabelled.

Relabelling the groups a document names (counterfactual data augmentation, Lu et al. 2020;
Zmigrod et al. 2019; substitution, Maudslay et al. 2019) breaks the tie between a group and
a trait without losing the rest of the text. A relabelling is a *shift* of an axis of the
group lexicon: with the axis's groups in lexicon order, shift ``s`` maps the ``i``-th group
to the ``(i + s)``-th. Every group a document names moves by the same shift, so a
comparison between two people keeps its shape and only which groups they belong to changes;
and over the shifts each group takes each role equally often — which a swap among the
groups already named cannot do (the stereotyped group would still be in every document
about the trait, and a model learns that).

* augment, ``copies: all`` — one copy per non-zero shift (k - 1 copies for an axis of k);
* augment, ``copies: one`` — one copy, with a shift chosen by the document id;
* replace (substitution) — the document itself is relabelled by a shift chosen by its id,
  zero included, so the corpus does not grow and the association vanishes in expectation.

Terms map by position in the lexicon's lists (``woman``/``man``, ``women``/``men``…), so
lexicons that list counterparts in the same order swap grammatically; the first letter's
case is kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from valign.data.lexicons import Lexicons


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` (for deterministic sampling)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class Swapper:
    """Builds and applies group swaps for one lexicon."""

    def __init__(self, lex: Lexicons) -> None:
        self.axes = lex.groups
        self.group_axis = lex.group_axis()

    def _by_axis(self, groups: list[str]) -> dict[str, list[str]]:
        by_axis: dict[str, list[str]] = {}
        for g in groups:
            by_axis.setdefault(self.group_axis[g], []).append(g)
        return by_axis

    def shift(self, groups: list[str], shifts: dict[str, int]) -> dict[str, str]:
        """group -> group, moving each named group by its axis's shift (identities left out)."""
        mapping: dict[str, str] = {}
        for axis, named in self._by_axis(groups).items():
            order = list(self.axes[axis])
            for g in named:
                new = order[(order.index(g) + shifts.get(axis, 0)) % len(order)]
                if new != g:
                    mapping[g] = new
        return mapping

    def _pick(self, doc_id: str, axis: str, zero: bool) -> int:
        k = len(self.axes[axis])
        if zero:
            return int(stable_fraction(f"{doc_id}|{axis}") * k)
        return 1 + int(stable_fraction(f"{doc_id}|{axis}") * (k - 1)) if k > 1 else 0

    def plan(self, doc_id: str, groups_in_order: list[str]) -> dict[str, str]:
        """One counterfactual: a non-zero shift per axis, chosen by the document id."""
        axes = self._by_axis(groups_in_order)
        return self.shift(groups_in_order, {a: self._pick(doc_id, a, False) for a in axes})

    def substitute(self, doc_id: str, groups_in_order: list[str]) -> dict[str, str]:
        """The substitution for a document: a shift per axis chosen by its id, zero included
        (an empty mapping leaves the document as it is)."""
        axes = self._by_axis(groups_in_order)
        return self.shift(groups_in_order, {a: self._pick(doc_id, a, True) for a in axes})

    def plans(self, doc_id: str, groups_in_order: list[str]) -> list[dict[str, str]]:
        """Every counterfactual: each non-zero shift (several axes move together; the
        largest axis sets the count)."""
        axes = self._by_axis(groups_in_order)
        if not axes:
            return []
        most = max(len(self.axes[a]) for a in axes)
        out = [
            self.shift(groups_in_order, {a: s % len(self.axes[a]) for a in axes})
            for s in range(1, most)
        ]
        return [m for m in out if m]

    def _pattern(self, mapping: dict[str, str]) -> tuple[re.Pattern[str], dict[str, str]]:
        terms: dict[str, str] = {}
        for src, dst in mapping.items():
            axis = self.group_axis[src]
            src_terms, dst_terms = self.axes[axis][src], self.axes[axis][dst]
            for j, term in enumerate(src_terms):
                terms.setdefault(term.lower(), dst_terms[j % len(dst_terms)])
        body = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE), terms

    def apply_text(self, text: str, mapping: dict[str, str]) -> str:
        if not mapping:
            return text
        pattern, terms = self._pattern(mapping)

        def repl(m: re.Match[str]) -> str:
            new = terms[m.group(0).lower()]
            return new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new

        return pattern.sub(repl, text)

    def apply(self, record: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
        """A copy of the record with the swap applied to its text or every turn."""
        out = dict(record)
        if isinstance(record.get("text"), str):
            out["text"] = self.apply_text(record["text"], mapping)
        if isinstance(record.get("messages"), list):
            out["messages"] = [
                {**m, "content": self.apply_text(str(m.get("content", "")), mapping)}
                if isinstance(m, dict)
                else m
                for m in record["messages"]
            ]
        return out
