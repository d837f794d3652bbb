"""Counterfactual data augmentation: the same document with its group terms swapped.

Swapping the groups a document names (Lu et al. 2020, "Gender bias in neural natural
language processing"; Zmigrod et al. 2019) breaks the tie between a group and a trait
without losing the rest of the text. Within one axis of the group lexicon:

* a document naming two or more groups has them rotated among themselves (the first
  group's terms become the second's, …), so a comparison between two people keeps its
  shape and only who is who changes;
* a document naming one group has it replaced by another group of the axis, chosen by the
  document's id (deterministic, spread evenly over the corpus) — or, with ``copies: all``,
  one copy per other group, so every group ends up in the same sentences equally often.

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

    def plan(self, doc_id: str, groups_in_order: list[str]) -> dict[str, str]:
        """group -> group it becomes, for the groups a document names (in text order)."""
        mapping: dict[str, str] = {}
        by_axis: dict[str, list[str]] = {}
        for g in groups_in_order:
            by_axis.setdefault(self.group_axis[g], []).append(g)
        for axis, groups in by_axis.items():
            if len(groups) >= 2:
                mapping |= {g: groups[(i + 1) % len(groups)] for i, g in enumerate(groups)}
            else:
                others = [g for g in self.axes[axis] if g != groups[0]]
                if others:
                    pick = int(stable_fraction(f"{doc_id}|{axis}") * len(others))
                    mapping[groups[0]] = others[pick]
        return mapping

    def plans(self, doc_id: str, groups_in_order: list[str]) -> list[dict[str, str]]:
        """Every counterfactual of a document, so that augmenting with all of them leaves
        each group of an axis equally often in each role: a single group becomes each other
        group of its axis in turn; n groups named together take each of their n - 1
        rotations. Several axes are varied together (the longest list sets the count)."""
        per_axis: list[list[dict[str, str]]] = []
        by_axis: dict[str, list[str]] = {}
        for g in groups_in_order:
            by_axis.setdefault(self.group_axis[g], []).append(g)
        for axis, groups in by_axis.items():
            if len(groups) >= 2:
                n = len(groups)
                maps = [{g: groups[(i + r) % n] for i, g in enumerate(groups)} for r in range(1, n)]
            else:
                maps = [{groups[0]: o} for o in self.axes[axis] if o != groups[0]]
            if maps:
                per_axis.append(maps)
        if not per_axis:
            return []
        longest = max(len(m) for m in per_axis)
        return [
            {k: v for maps in per_axis for k, v in maps[i % len(maps)].items()}
            for i in range(longest)
        ]

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
