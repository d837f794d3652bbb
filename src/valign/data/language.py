"""Which language a document is in: its script, then, for Latin script, its function words.

Why not a trained identifier (fastText lid.176, CLD3)? valign must run on a machine with no
model downloads, and an audit needs a *distribution* over a corpus, not a perfect label per
document. Script is exact from code points; among Latin-script languages, the most frequent
function words (``lexicons/languages/stopwords.yaml``, extensible per language) separate
English, French, German, Spanish, Italian, Dutch and Portuguese on documents of a sentence
or more. Short documents with fewer than two function words are ``und`` (undetermined),
and the datasheet says how many there are. A non-Latin document is labelled by its script
(``script:Cyrillic``), since script alone cannot tell e.g. Russian from Ukrainian.
"""

from __future__ import annotations

import re
from collections import Counter

#: (first code point, last code point, script), checked in order.
SCRIPTS = (
    (0x0041, 0x024F, "Latin"),
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x04FF, "Cyrillic"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x3040, 0x30FF, "Kana"),
    (0x4E00, 0x9FFF, "Han"),
    (0xAC00, 0xD7AF, "Hangul"),
)
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def script_of(text: str, sample: int = 400) -> str:
    """The most frequent script among the letters of the first ``sample`` characters."""
    head = text[:sample]
    if head.isascii():  # the common case, without a loop over characters
        return "Latin" if _ASCII_LETTER.search(head) else "none"
    counts: Counter[str] = Counter()
    for ch in head:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        for lo, hi, name in SCRIPTS:
            if lo <= cp <= hi:
                counts[name] += 1
                break
        else:
            counts["other"] += 1
    if not counts:
        return "none"
    script, _ = counts.most_common(1)[0]
    if script == "Han" and counts["Kana"]:
        return "Kana"  # Japanese mixes Han with kana
    return script


class LanguageDetector:
    """Labels a document ``en``, ``fr``… (Latin script), ``script:<name>`` or ``und``."""

    def __init__(self, stopwords: dict[str, list[str]], max_words: int = 200) -> None:
        self.owner: dict[str, list[str]] = {}
        for code, words in stopwords.items():
            for w in words:
                self.owner.setdefault(w.lower(), []).append(code)
        self.max_words = max_words

    def detect(self, text: str, toks: list[str] | None = None) -> str:
        """The label of ``text`` (``toks``: its lower-cased words, if the caller has them)."""
        script = script_of(text)
        if script == "none":
            return "und"
        if script != "Latin":
            return f"script:{script}"
        words = (
            toks[: self.max_words]
            if toks is not None
            else [
                m.group(0).lower()
                for _, m in zip(range(self.max_words), _WORD.finditer(text), strict=False)
            ]
        )
        votes: Counter[str] = Counter()
        owner = self.owner
        for w in words:
            codes = owner.get(w)
            if codes:
                votes.update(codes)
        if not votes:
            return "und"
        (best, n), *rest = votes.most_common(2)
        if n < 2 or (rest and rest[0][1] == n):
            return "und"
        return best
