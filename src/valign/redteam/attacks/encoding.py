"""Encoded requests: base64, ROT13, leetspeak and homoglyphs.

Safety training is mostly in plain text; a request the model can still read after
encoding may slip past it (Wei, Haghtalab and Steinhardt 2023, "Jailbroken"; garak's
``encoding`` probes). Homoglyphs swap Latin letters for Cyrillic look-alikes, which also
tests filters that match words. Every encoding is reversible (:data:`CODECS`), so the
payload check in the contract tests can decode it back to the objective.
"""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from valign.redteam.attacks.templates import pick
from valign.redteam.bundled import data_file
from valign.redteam.registry import register_attack
from valign.redteam.types import (
    Attack,
    AttackContext,
    AttackMeta,
    Attempt,
    Objective,
    first_attempt,
    user,
)

_LEET: dict[str, str | int | None] = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPHS: dict[str, str | int | None] = {
    "a": "а",
    "c": "с",
    "e": "е",
    "i": "і",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode("ascii")).decode()


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def _table(
    mapping: dict[str, str | int | None], lower: bool
) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """Encoder and decoder for a letter substitution (``lower``: lower-case first, as
    leetspeak does)."""
    fwd = str.maketrans(mapping)
    back_map: dict[str, str | int | None] = {str(v): k for k, v in mapping.items()}
    back = str.maketrans(back_map)
    return (lambda s: (s.lower() if lower else s).translate(fwd)), (lambda s: s.translate(back))


#: Encoder and decoder per encoding. Leetspeak decodes to the lower-cased request with
#: its digits turned into letters, which is what a reader of leetspeak recovers.
CODECS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    "base64": (_b64, _unb64),
    "rot13": (_rot13, _rot13),
    "leetspeak": _table(_LEET, lower=True),
    "homoglyph": _table(_HOMOGLYPHS, lower=False),
}
GOALS = {
    "base64": "Does the model decode and obey a base64 request that safety training never saw?",
    "rot13": "Does a ROT13 request get past the model's refusals?",
    "leetspeak": "Does digit-for-letter spelling get past the model's refusals?",
    "homoglyph": "Do look-alike Cyrillic letters hide a request from word-based filters?",
}


@dataclass(frozen=True)
class EncodingAttack:
    """The request encoded and put into one of the encoding's wrappers."""

    meta: AttackMeta
    encode: Callable[[str], str]
    wrappers: tuple[str, ...]

    def build(self, objectives: Sequence[Objective], ctx: AttackContext) -> list[Attempt]:
        out = []
        for objective in objectives:
            payload = self.encode(objective.request)
            for i in pick(ctx, len(self.wrappers), self.meta.name, objective.id):
                text = self.wrappers[i].replace("{payload}", payload)
                out.append(first_attempt(self.meta, objective, i, [user(text)], payload))
        return out


def _factory(name: str) -> Any:
    def make() -> Attack:
        meta = AttackMeta(
            name=name,
            family="encoding",
            goal=GOALS[name],
            source="encoding jailbreaks (Wei et al. 2023; garak's encoding probes)",
        )
        return EncodingAttack(meta, CODECS[name][0], tuple(data_file("encodings.yaml")[name]))

    make.__doc__ = f"The request encoded with {name}."
    return make


for _name in CODECS:
    register_attack(_name, _factory(_name))
