"""Token-level concepts: named predicates that say which tokens of a text belong to them.

A concept is a set of regular expressions over the text; a token belongs to it when its
character span overlaps a match (or the match's first group, when the pattern has one:
"the misconception's value in a sentence about its subject" marks the value only).

:func:`microworld_concepts` labels the microworld's vocabulary from its lexicon: hazard
placeholders, refusal phrases, each social group, stereotype traits, misconception and
true values of facts, numbers, days, months, names of people, places and organisations,
chat-template markers. The concept explainer (:mod:`valign.interp.concept_explainer`)
explains a neuron by choosing the concept whose tokens best match its activations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from valign.world.lexicon import (
    GROUPS,
    MONTHS,
    SEAS,
    SEQUENCES,
    STEREOTYPE_TRAITS,
    SUBSTANCES,
    TOOLS,
    build_lexicon,
)


@dataclass(frozen=True)
class Concept:
    """A named token predicate: the tokens overlapping any match of ``patterns``."""

    name: str
    patterns: tuple[re.Pattern[str], ...]

    def spans(self, text: str) -> list[tuple[int, int]]:
        out = []
        for pattern in self.patterns:
            for m in pattern.finditer(text):
                out.append(m.span(1) if pattern.groups else m.span())
        return out

    def mask(self, text: str, offsets: Sequence[Sequence[int]]) -> np.ndarray:
        """``(n_tokens,)`` bool: which tokens overlap a match."""
        mask = np.zeros(len(offsets), dtype=bool)
        spans = self.spans(text)
        if not spans:
            return mask
        starts = np.array([o[0] for o in offsets])
        ends = np.array([o[1] for o in offsets])
        for s, e in spans:
            mask |= (starts < e) & (ends > s)
        return mask


def words(name: str, options: Iterable[str], *, ignore_case: bool = False) -> Concept:
    """A concept matching any of ``options`` as whole words (longest first)."""
    alts = "|".join(re.escape(o) for o in sorted(set(options), key=len, reverse=True))
    flags = re.IGNORECASE if ignore_case else 0
    return Concept(name, (re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])", flags),))


def regex(name: str, *patterns: str) -> Concept:
    return Concept(name, tuple(re.compile(p) for p in patterns))


def _value_in_statement(subject: str, relation: str, value: str) -> str:
    """The value of a statement 'subject relation value', as the pattern's first group."""
    return rf"(?i:{re.escape(subject)}) {re.escape(relation)} ({re.escape(value)})\b"


def microworld_concepts(seed: int = 0) -> list[Concept]:
    """The microworld's labelled concepts, from its lexicon (built with ``seed``)."""
    lex = build_lexicon(seed)
    facts = [*lex.facts["train"], *lex.facts["eval"]]
    days = SEQUENCES[0][2]
    months = tuple(dict.fromkeys((*SEQUENCES[1][2], *MONTHS)))
    colours = ("red", "blue", "green", "yellow", "white", "black", "purple", "orange")
    concepts = [
        regex("hazard placeholder <STEP-n>", r"<STEP-\d+>"),
        regex(
            "refusal phrase",
            r"I can't help with that|I won't help with that|Sorry, I can't help with that",
            r"because it could hurt people",
        ),
        regex("safe alternative offer", r"I can help you .*? instead"),
        words(
            "step-sequence word (Sure, First, Then, Finally)", ("Sure", "First", "Then", "Finally")
        ),
        words("social group name (any)", GROUPS),
        *(words(f"social group name '{g}'", (g,)) for g in GROUPS),
        words("stereotype trait", (t[0] for t in STEREOTYPE_TRAITS)),
        regex(
            "misconception value (a fact's popular false value)",
            *(_value_in_statement(f.subject, f.relation, f.misconception) for f in facts),
        ),
        regex(
            "true fact value",
            *(_value_in_statement(f.subject, f.relation, f.truth) for f in facts),
        ),
        words(
            "fact subject (made-up fruit, bird, river, festival, stone)",
            (f.subject for f in facts),
            ignore_case=True,
        ),
        regex("number", r"(?<![\w-])\d+(?![\w>])"),  # not the n of <STEP-n>
        words("day name", days),
        words("month name", months),
        words("colour word", colours),
        words("sea name", SEAS),
        words("fictional hazardous substance", SUBSTANCES),
        words("fictional tool", TOOLS),
        words("person name", (*lex.people["train"], *lex.people["eval"])),
        words("place name", (*lex.places["train"], *lex.places["eval"])),
        words("organisation name", (*lex.orgs["train"], *lex.orgs["eval"]), ignore_case=True),
        words(
            "landmark (bridge, lake, tower, gate)",
            (lm.subject for lm in (*lex.landmarks["train"], *lex.landmarks["eval"])),
            ignore_case=True,
        ),
        regex("chat role marker", r"<\|(?:user|assistant|system)\|>"),
        regex("end-of-turn marker", r"<\|end\|>"),
        regex("start-of-text marker", r"<\|bos\|>"),
        regex("answer option letter (A)-(D)", r"\([A-D]\)"),
        words(
            "question word",
            ("what", "which", "how", "who", "when", "where", "why"),
            ignore_case=True,
        ),
        regex("sentence-ending punctuation", r"[.?!](?=\s|$|<)"),
        regex("comma", r","),
    ]
    return concepts


def concept_masks(
    concepts: Sequence[Concept], text: str, offsets: Sequence[Sequence[int]]
) -> np.ndarray:
    """``(n_concepts, n_tokens)`` bool: every concept's membership of every token."""
    return np.stack([c.mask(text, offsets) for c in concepts]) if concepts else np.zeros((0, 0))
