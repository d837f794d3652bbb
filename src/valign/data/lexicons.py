"""Lexicons are data: group terms, traits and sentiment, claim markers, toxicity, stopwords.

Bundled files live in ``valign/data/lexicons/<kind>/<language>[-region].yaml``; each file
says its ``kind`` (``groups``, ``traits``, ``claims``, ``toxicity``, ``languages``). Users add
their own files (another language, a region's groups, a vetted slur list) with
``--lexicon FILE``: files of the same kind merge, later files extending earlier ones, so a
region adds to a language instead of forking it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.settings import read_yaml

KINDS = ("groups", "traits", "claims", "toxicity", "languages")


@dataclass(frozen=True)
class Lexicons:
    """Every lexicon an audit uses, merged from the bundled and the user's files.

    Attributes:
        groups: axis -> group -> terms.
        traits: valence ("negative"/"positive") -> trait terms.
        sentiment: valence -> sentiment words.
        hearsay: Markers opening a sentence that states a popular belief.
        sourced: Markers opening a sentence that states a checked fact.
        relations: Verbs that split a claim into subject, relation and value.
        toxicity: Insult and abuse terms.
        stopwords: language code -> frequent function words.
        files: Where each part came from (for the datasheet).
    """

    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    traits: dict[str, list[str]] = field(default_factory=dict)
    sentiment: dict[str, list[str]] = field(default_factory=dict)
    hearsay: list[str] = field(default_factory=list)
    sourced: list[str] = field(default_factory=list)
    relations: list[str] = field(default_factory=list)
    toxicity: list[str] = field(default_factory=list)
    stopwords: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def trait_valence(self) -> dict[str, str]:
        return {t.lower(): v for v, ts in self.traits.items() for t in ts}

    def group_axis(self) -> dict[str, str]:
        return {g: axis for axis, groups in self.groups.items() for g in groups}


def bundled_files() -> list[Path]:
    root = resources.files("valign.data").joinpath("lexicons")
    return sorted(Path(str(p)) for p in Path(str(root)).rglob("*.yaml"))


def _read(path: Path) -> dict[str, Any]:
    data = read_yaml(path, "lexicon file")
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise UserError(f"{path}: a lexicon needs a 'kind' field, one of {', '.join(KINDS)}")
    return data


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: expected a list of strings")
    return [str(v) for v in value]


def load_lexicons(extra: list[Path] | None = None, bundled: bool = True) -> Lexicons:
    """Merge the bundled lexicons (unless ``bundled`` is False) and ``extra`` files."""
    lex = Lexicons()
    for path in [*(bundled_files() if bundled else []), *(extra or [])]:
        data = _read(path)
        kind = data["kind"]
        lex.files.append(str(path))
        if kind == "groups":
            for axis, groups in (data.get("axes") or {}).items():
                if not isinstance(groups, dict):
                    raise UserError(f"{path}: axes.{axis}: expected group -> list of terms")
                target = lex.groups.setdefault(str(axis), {})
                for group, terms in groups.items():
                    target.setdefault(str(group), []).extend(
                        _strings(terms, f"{path}: axes.{axis}.{group}")
                    )
        elif kind == "traits":
            for valence, terms in (data.get("traits") or {}).items():
                lex.traits.setdefault(str(valence), []).extend(
                    _strings(terms, f"{path}: traits.{valence}")
                )
            for valence, terms in (data.get("sentiment") or {}).items():
                lex.sentiment.setdefault(str(valence), []).extend(
                    _strings(terms, f"{path}: sentiment.{valence}")
                )
        elif kind == "claims":
            for key in ("hearsay", "sourced", "relations"):
                getattr(lex, key).extend(_strings(data.get(key) or [], f"{path}: {key}"))
        elif kind == "toxicity":
            lex.toxicity.extend(_strings(data.get("terms") or [], f"{path}: terms"))
        else:
            for code, words in (data.get("stopwords") or {}).items():
                lex.stopwords.setdefault(str(code), []).extend(
                    _strings(words, f"{path}: stopwords.{code}")
                )
    return lex


_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased words; hyphenated words stay one token ("non-binary", "hard-working")."""
    return _TOKEN.findall(text.lower())


class PhraseMatcher:
    """Finds whole-word, case-insensitive occurrences of phrases; maps each to a label.

    Phrases are matched on tokens (:func:`tokens`), longest first and without overlap, so
    "dishonest" never counts as "honest" and "bad with money" is one match. One dictionary
    lookup per token keeps it fast on large corpora (a regular expression with hundreds of
    alternatives is several times slower).
    """

    def __init__(self, phrases: dict[str, str]) -> None:
        self.index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, label in phrases.items():
            toks = tuple(tokens(phrase))
            if toks:
                self.index.setdefault(toks[0], []).append((toks, label))
        for entries in self.index.values():
            entries.sort(key=lambda e: -len(e[0]))

    def matches(self, toks: list[str]) -> list[str]:
        """Labels of every match, in text order, from a token list."""
        out: list[str] = []
        index, i, n = self.index, 0, len(toks)
        while i < n:
            entries = index.get(toks[i])
            step = 1
            if entries is not None:
                for phrase, label in entries:
                    k = len(phrase)
                    if k == 1 or tuple(toks[i : i + k]) == phrase:
                        out.append(label)
                        step = k
                        break
            i += step
        return out

    def labels(self, text: str) -> set[str]:
        return set(self.matches(tokens(text)))

    def ordered_labels(self, text: str) -> list[str]:
        """Labels in order of first occurrence."""
        return list(dict.fromkeys(self.matches(tokens(text))))

    def count(self, text: str) -> int:
        return len(self.matches(tokens(text)))
